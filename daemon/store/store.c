#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"


/* The outbox's channel column holds one of dawn_channel_name()'s names: listed here so
 * a query can reach each channel's rows of one state by index instead of reading every
 * row of history (tests/unit/test_outbox_counts.c checks the list against the names). */
#define DAWN_STORE_CHANNELS "'mqtt', 'sms', 'email'"
_Static_assert(DAWN_CHANNEL_COUNT == 3, "DAWN_STORE_CHANNELS must list every channel");


/* outbox_ended_saved's row that marks its counts complete (no channel has this name) */
#define SAVED_MARK "*"

enum stmt_id {
        ST_ENDED_COUNTS,
        ST_SAVED_ENDED,
        ST_SAVED_ENDED_CLEAR,
        ST_SAVED_ENDED_ADD,
        ST_NEXT_SEQ,
        ST_INSERT_ALERT,
        ST_UPDATE_ALERT,
        ST_INSERT_REVISION,
        ST_LOAD_ALERT,
        ST_FIND_MATCH,
        ST_LIST_ACTIVE,
        ST_LIST_ALL,
        ST_COUNT_OPEN,
        ST_DUE_EXPIRIES,
        ST_NEXT_EXPIRY,
        ST_REVISION_JSON,
        ST_FIND_SUBMISSION,
        ST_ADD_SUBMISSION,
        ST_ADD_CORROBORATION,
        ST_LOAD_CORROBORATIONS,
        ST_AUDIT,
        ST_ADD_DELIVERY,
        ST_SUPERSEDE,
        ST_RECIPIENTS,
        ST_DUE,
        ST_DUE_PUBLIC,
        ST_NEXT_DUE,
        ST_STARTED,
        ST_FINISHED,
        ST_REQUEUE,
        ST_FAIL_EXPIRED,
        ST_DELIVERIES,
        ST_QUEUE_COUNTS,
        ST_COUNT_WAITING,
        ST_ALERTS_BY_TYPE,
        ST_OPEN_ALERTS_BY_TYPE,
        ST_OPTOUT_ADD,
        ST_OPTOUT_REMOVE,
        ST_OPTOUT_GET,
        ST_OPTOUT_LIST,
        ST_OPTOUT_WAITING,
        ST_ACK_ADD,
        ST_ACK_LIST,
        ST_LOAD_DELIVERY,
        ST_MOVE_DELIVERY,
        ST_TWILIO_SEEN,
        ST_TWILIO_PRUNE,
        ST_REACHED,
        ST_ALERT_COUNTS,
        ST_ALERT_STATE,
        ST_OPEN_CLUSTER,
        ST_UNCLUSTERED,
        ST_SET_REPORT_CLUSTER,
        ST_CLUSTER_ADD_REPORTS,
        ST_CLUSTER_REPORTS,
        ST_FIRST_CORROBORATIONS,
        ST_ADD_HELD_CORROBORATION,
        ST_CORROBORATION_REPORT,
        ST_RELEASE_CORROBORATION,
        ST_DROP_COUNTED_CORROBORATIONS,
        ST_DROP_MERGED,
        ST_NEXT_PROPOSAL_SEQ,
        ST_ADD_PROPOSAL,
        ST_LOAD_PROPOSAL,
        ST_DECIDE_PROPOSAL,
        ST_WAITING_PROPOSALS,
        ST_CLOSE_PROPOSALS,
        ST_SUPERSEDE_NOTICES,
        ST_REPEAT_CORROBORATION,
        ST_LOAD_MERGED,
        ST_SAVE_MERGED,
        ST_PENDING_PROPOSAL_FROM,
        ST_UPDATE_HELD,
        ST_UPDATE_PROPOSAL,
        ST_UPDATE_NOTICE_TEXT,
        /* public text subscriptions (issue 13 part 2) */
        ST_PUBLIC_JOIN,
        ST_PUBLIC_MEMBER,
        ST_PUBLIC_NUMBERS,
        ST_PUBLIC_LEAVE,
        ST_PUBLIC_JOINS_PRUNE,
        ST_PUBLIC_JOINS_NOTE,
        ST_PUBLIC_COUNTS,
        ST_PUBLIC_IN_AREA,
        ST_PUBLIC_ADD_DELIVERY,
        ST_PUBLIC_REACHED,
        ST_PUBLIC_HOLD_WAITING,
        ST_PUBLIC_TOLD,
        ST_CAP_PUBLISHED,
        /* channel pauses and the oldest waiting delivery (issue 14) */
        ST_CREDIT_PAUSE,
        ST_OLDEST_WAITING,
        ST_SAVEPOINT,
        ST_RELEASE,
        ST_ROLLBACK_TO,
        /* history and audit */
        ST_HISTORY,
        ST_AUDIT_LIST,
        /* retention */
        ST_PRUNE_BATCH,
        ST_PRUNE_PREVIEW_ALERTS,
        ST_PRUNE_PREVIEW_DELIVERIES,
        ST_PRUNE_COUNT,
        ST_PRUNE_TOTALS,
        ST_PRUNE_TIMES,
        ST_PRUNE_OUTBOX,
        ST_PRUNE_ACKS_MASK,
        ST_PRUNE_ACKS_DROP,
        ST_PRUNE_ESCALATIONS,
        ST_PRUNE_MARK,
        ST_PRUNE_AUDIT,
        ST_PRUNE_JOINS,
        ST_DELIVERY_TOTALS,
        ST_PRUNED_AT,
        /* escalation (issue 13 part 1) */
        ST_ESC_START,
        ST_ESC_DECIDE,
        ST_ESC_STOP_ALL,
        ST_ESC_DUE,
        ST_ESC_NEXT,
        ST_ESC_FIRST_ACK,
        ST_ESC_ADD_DELIVERY,
        ST_ESC_LIST,
        ST_ESC_STATES,
        ST_ESC_UNACKED,
        ST_ESC_COUNT_WAITING,
        ST_ESC_LOAD,
        /* the panel's summary */
        ST_SUMMARY_ALERTS,
        ST_SUMMARY_DELIVERIES,
        ST_SUMMARY_DELIVERY_TIMES,
        ST_SUMMARY_ACKS,
        ST_SUMMARY_ESCALATIONS,
        ST_SUMMARY_PEOPLE,
        /* SMS replies (issue 13: replies to Notify inbound texts) */
        ST_REPLY_ADD,
        ST_REPLY_RECENT,
        ST_REPLY_WAITING,
        ST_REPLY_DUE,
        ST_REPLY_NEXT_DUE,
        ST_REPLY_LOAD,
        ST_REPLY_MOVE,
        ST_REPLY_FAIL_EXPIRED,
        ST_REPLY_REQUEUE,
        ST_REPLY_PRUNE,
        /* issue 13 review */
        ST_REACHED_ALL,
        /* erasure on request */
        ST_ERASE_JOINS,
        ST_ERASE_REPLIES,
        /* several nodes (issue 15) */
        ST_NODE_BEAT,
        ST_REQUEUE_CHANNEL,
        ST_NODES,
        ST_LEASE_EXTEND,
        ST_RECLAIM,
        ST_LOCK_AREA,
        ST_TRY_JOB,
        ST_REPLY_LEASE_EXTEND,
        ST_REPLY_RECLAIM,
        ST_TAKE_TOKENS,
        ST_ADD_BUCKET,
        ST_REPLY_RECEIPT_MOVE,
        ST_ADD_DELIVERY_COUNTS,
        ST_ADD_ALERT_COUNTS,
        ST_ENDED_SUMS,
        ST_COUNT,
};

/* retention: an alert whose delivery details may go. It ended (cancelled or
 * expired) before ?1 and has not been pruned (the partial index alerts_ended
 * holds exactly those), and none of its deliveries still waits or is in
 * flight: a cancellation text the gateway has not taken yet is not removed
 * from under the outbox. */
#define PRUNABLE                                                                                            \
        " status IN ('cancelled', 'expired') AND pruned_at IS NULL AND updated_at < ?1"                     \
        " AND NOT EXISTS (SELECT 1 FROM outbox w WHERE w.alert_id = alerts.id"                              \
        " AND w.state IN ('pending', 'retrying', 'in-flight'))"

/* The panel's summary counts the alerts issued in a window [?1, ?2): those
 * whose first revision that recipients saw (status active) was made in it.
 * That is when an alert went out: at once for an issuer's, at approval for
 * a reporter's report or a reviewed cluster (whose issued_at is when the
 * report came). An alert never active (pending, rejected) was not issued.
 * Candidates come through alerts_by_type (an alert goes out at or before its
 * updated_at), so the rows read follow the window, not the table, and are
 * capped as every figure is (?3: DAWN_SUMMARY_MAX_ROWS + 1).
 * first_report_at: when the first report it stands on came, for a cluster
 * the earliest of its overdose reports (its corroborations name them; an
 * approval re-records those rows, their report alerts keep the time). */
#define SUMMARY_WINDOW                                                                                        \
        "WITH w AS MATERIALIZED (SELECT * FROM (SELECT a.id AS id, a.type AS type, a.grade AS grade,"             \
        " a.area AS area, a.pruned_at AS pruned_at,"                                                           \
        " (SELECT min(r.created_at) FROM revisions r WHERE r.alert_id = a.id AND r.revision < 100000000"        \
        "  AND json_extract(r.json, '$.status') = 'active') AS out_at,"                                       \
        " (SELECT min(r.revision) FROM revisions r WHERE r.alert_id = a.id AND r.revision < 100000000"          \
        "  AND json_extract(r.json, '$.status') = 'active') AS first_rev,"                                    \
        " CASE WHEN a.type = 'cluster' THEN coalesce((SELECT min(rep.issued_at) FROM corroborations c"         \
        "  JOIN alerts rep ON rep.id = json_extract(c.json, '$.id') WHERE c.alert_id = a.id), a.issued_at)"   \
        "  ELSE a.issued_at END AS first_report_at"                                                           \
        " FROM alerts a WHERE a.type IN ('batch', 'cluster', 'nfod') AND a.updated_at >= ?1 LIMIT ?3)"        \
        " WHERE out_at >= ?1 AND out_at < ?2) "
_Static_assert(DAWN_TYPE_COUNT == 3, "SUMMARY_WINDOW names every alert type");
_Static_assert(DAWN_PROPOSAL_REVISION_BASE == 100000000, "SUMMARY_WINDOW leaves review notices out");

/* What each of the panel's figures reads of the window w: the same on both backends, whose
 * windows differ only in how they read the revisions' JSON (SUMMARY_WINDOW, PG_SUMMARY_WINDOW). */
#define SUMMARY_ALERTS_OF_W                                                                                    \
        "SELECT type, grade, area, out_at,"                                                                   \
        " CASE WHEN type = 'cluster' OR first_rev > 1 THEN first_report_at END FROM w"                          \
        " ORDER BY out_at LIMIT ?3"
#define SUMMARY_DELIVERIES_OF_W                                                                                \
        "SELECT channel, state, sum(n) FROM ("                                                                \
        " SELECT o.channel AS channel, o.state AS state, count(*) AS n FROM w"                                 \
        "  JOIN outbox o ON o.alert_id = w.id WHERE w.pruned_at IS NULL"                                      \
        "  GROUP BY o.channel, o.state"                                                                       \
        " UNION ALL SELECT t.channel, t.state, sum(t.deliveries) FROM w"                                      \
        "  JOIN delivery_totals t ON t.alert_id = w.id WHERE w.pruned_at IS NOT NULL"                         \
        "  GROUP BY t.channel, t.state) d"                                                                    \
        " GROUP BY channel, state ORDER BY channel, state LIMIT ?3"
#define SUMMARY_DELIVERY_TIMES_OF_W                                                                            \
        "SELECT o.channel, o.updated_at - o.created_at FROM w"                                                \
        " JOIN outbox o ON o.alert_id = w.id WHERE w.pruned_at IS NULL"                                       \
        " AND o.state IN ('delivered', 'sent')"                                                               \
        " UNION ALL SELECT d.channel, d.usec FROM w"                                                          \
        " JOIN delivery_times d ON d.alert_id = w.id WHERE w.pruned_at IS NOT NULL"                           \
        " LIMIT ?3"
/* one row per (alert, subscriber) that the alert was queued for by the subscriber's own
 * rules: the time from the first queueing to the first acknowledgement, or NULL */
#define SUMMARY_ACKS_OF_W                                                                                      \
        ", due AS (SELECT o.alert_id AS alert_id, o.subscriber AS subscriber,"                                \
        "  min(o.created_at) AS queued FROM w JOIN outbox o ON o.alert_id = w.id"                             \
        "  WHERE o.purpose = 'alert' AND o.action = 'publish' AND o.revision < 100000000"                      \
        "  AND o.subscriber <> '' GROUP BY o.alert_id, o.subscriber)"                                         \
        " SELECT subscriber, (SELECT min(k.at) FROM acks k WHERE k.alert_id = due.alert_id"                   \
        "  AND k.subscriber = due.subscriber) - queued FROM due LIMIT ?3"
#define SUMMARY_ESCALATIONS_OF_W                                                                               \
        "SELECT e.state, count(*) FROM w JOIN escalations e ON e.alert_id = w.id GROUP BY e.state LIMIT ?3"

/* The due deliveries of a channel, professional (purpose <> 'public') or public texts:
 * PostgreSQL's adds FOR UPDATE ... SKIP LOCKED (stmt_sql_pg). */
#define DUE_SQL(purpose)                                                                                       \
        "SELECT o.id, o.alert_id, o.revision, o.subscriber, o.recipient, o.action, o.state,"                  \
        " o.attempts, o.created_at, r.json, o.purpose, o.about FROM outbox o INDEXED BY outbox_waiting"        \
        " JOIN revisions r ON r.alert_id = o.alert_id AND r.revision = o.revision"                            \
        " WHERE o.channel = ?1 AND o.state IN ('pending', 'retrying') AND o.next_at <= ?2"                     \
        " AND o.purpose " purpose " 'public' AND o.id < ?4 ORDER BY o.next_at, o.id LIMIT ?3"

static const char *const stmt_sql[ST_COUNT] = {
        [ST_NEXT_SEQ] = "SELECT coalesce(max(seq), 0) + 1 FROM alerts",
        [ST_INSERT_ALERT] = "INSERT INTO alerts (id, seq, fingerprint, status, grade, revision, issued_at,"
                            " updated_at, expires_at, json, type, area)"
                            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        [ST_UPDATE_ALERT] = "UPDATE alerts SET fingerprint = ?3, status = ?4, grade = ?5, revision = ?6,"
                            " updated_at = ?8, expires_at = ?9, json = ?10, type = ?11, area = ?12 WHERE id = ?1",
        [ST_INSERT_REVISION] = "INSERT INTO revisions (alert_id, revision, created_at, json) VALUES (?, ?, ?, ?)",
        [ST_LOAD_ALERT] = "SELECT json FROM alerts WHERE id = ?",
        [ST_FIND_MATCH] = "SELECT id FROM alerts WHERE fingerprint = ? AND status IN ('active', 'pending')"
                          " AND updated_at >= ? ORDER BY updated_at DESC LIMIT 1",
        [ST_LIST_ACTIVE] = "SELECT json FROM alerts WHERE status IN ('active', 'pending') ORDER BY seq DESC",
        [ST_LIST_ALL] = "SELECT json FROM alerts ORDER BY seq DESC",
        [ST_COUNT_OPEN] = "SELECT count(*) FROM alerts WHERE status IN ('active', 'pending')",
        [ST_DUE_EXPIRIES] = "SELECT id FROM alerts WHERE status IN ('active', 'pending') AND expires_at > 0"
                            " AND expires_at <= ? ORDER BY expires_at LIMIT ?",
        [ST_NEXT_EXPIRY] = "SELECT min(expires_at) FROM alerts WHERE status IN ('active', 'pending')"
                           " AND expires_at > 0",
        [ST_REVISION_JSON] = "SELECT json FROM revisions WHERE alert_id = ? AND revision = ?",
        [ST_FIND_SUBMISSION] = "SELECT alert_id FROM submissions WHERE source = ? AND source_ref = ?",
        [ST_ADD_SUBMISSION] = "INSERT INTO submissions (source, source_ref, alert_id, received_at) VALUES (?, ?, ?, ?)",
        [ST_ADD_CORROBORATION] = "INSERT INTO corroborations (alert_id, source, received_at, json) VALUES (?, ?, ?, ?)",
        [ST_LOAD_CORROBORATIONS] = "SELECT source, received_at, json, proposal, repeats, last_at FROM corroborations"
                                   " WHERE alert_id = ? ORDER BY id",
        /* the source's latest corroboration of the alert, found by index, if it says
         * word for word what this one says: counted again, not stored again */
        [ST_REPEAT_CORROBORATION] = "UPDATE corroborations SET repeats = repeats + 1, last_at = ?3"
                                    " WHERE id = (SELECT id FROM corroborations INDEXED BY corroborations_by_source"
                                    " WHERE alert_id = ?1 AND source = ?2 ORDER BY id DESC LIMIT 1)"
                                    " AND json = ?4 AND proposal IS NULL",
        [ST_LOAD_MERGED] = "SELECT reports, evidence, casualties, fatalities, adulterants FROM merged WHERE alert_id = ?1",
        [ST_SAVE_MERGED] = "INSERT INTO merged (alert_id, reports, evidence, casualties, fatalities, adulterants)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (alert_id) DO UPDATE SET"
                           " reports = excluded.reports, evidence = excluded.evidence, casualties = excluded.casualties,"
                           " fatalities = excluded.fatalities, adulterants = excluded.adulterants",
        [ST_AUDIT] = "INSERT INTO audit (at, actor, action, alert_id, detail) VALUES (?, ?, ?, ?, ?)",
        [ST_ADD_DELIVERY] = "INSERT OR IGNORE INTO outbox (alert_id, revision, subscriber, channel, recipient, action,"
                            " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        [ST_SUPERSEDE] = "UPDATE outbox SET state = 'superseded', updated_at = ?3 WHERE alert_id = ?1"
                          " AND revision < ?2 AND state IN ('pending', 'retrying') AND purpose IN ('alert', 'public')"
                          " RETURNING channel",
        [ST_RECIPIENTS] = "SELECT subscriber, channel, recipient, max(state IN ('delivered', 'in-flight', 'sent')),"
                          " min(purpose = 'escalation') FROM outbox WHERE alert_id = ? AND action = 'publish'"
                          " GROUP BY subscriber, channel, recipient ORDER BY subscriber, channel, recipient",
        /* professional deliveries first: a queue of public texts never stands between a
         * hostel and its alert. Two queries, not one ORDER BY purpose = 'public': each reads
         * outbox_waiting in its own order (channel, next_at, id) and stops at its LIMIT,
         * where the one query read and sorted every due row to return a few (a backlog of
         * 100,000 rows was read whole for each 256 sent). */
        [ST_DUE] = DUE_SQL("<>"),
        [ST_DUE_PUBLIC] = DUE_SQL("="),
        [ST_NEXT_DUE] = "SELECT min(next_at) FROM outbox WHERE channel = ? AND state IN ('pending', 'retrying')",
        /* only from the states the transition table (outbox.c) allows: the outbox's own
         * results never overwrite what a receipt decided (delivered, failed) */
        [ST_STARTED] = "UPDATE outbox SET state = 'in-flight', attempts = attempts + 1, updated_at = ?2 WHERE id = ?1"
                       " AND state IN ('pending', 'retrying')",
        [ST_FINISHED] = "UPDATE outbox SET state = ?2, last_error = ?3, next_at = ?4, updated_at = ?5 WHERE id = ?1"
                        " AND (state = 'in-flight' OR (?2 IN ('pending', 'failed') AND state IN ('pending', 'retrying')))"
                        " RETURNING channel",
        /* through the partial index of what is in flight: never the history */
        [ST_REQUEUE] = "UPDATE outbox INDEXED BY outbox_in_flight SET state = 'pending', updated_at = ?"
                       " WHERE channel IN (" DAWN_STORE_CHANNELS ") AND state = 'in-flight'",
        [ST_FAIL_EXPIRED] = "UPDATE outbox SET state = 'failed', last_error = ?3, updated_at = ?4"
                            " WHERE channel = ?1 AND state IN ('pending', 'retrying') AND created_at < ?2",
        [ST_DELIVERIES] = "SELECT subscriber, channel, recipient, action, revision, state, attempts, last_error,"
                           " next_at, updated_at, purpose, about FROM outbox WHERE alert_id = ? ORDER BY revision, subscriber, channel, id",
        /* status, STATUS= and /metrics must not cost more as delivered history grows: they
         * read only the live deliveries, the waiting ones through the partial index of what
         * waits, the in-flight ones through that of what is in flight; the ended ones are
         * counted in memory (struct ended_counts). ST_ENDED_COUNTS is the one pass over the
         * history, at an open after a crash (a clean close saves the counts: ST_SAVED_*). */
        /* the rows, counted in C: no index has them in (channel, state) order any more, and
         * GROUP BY would sort every delivery ever made (issue 12 review) */
        [ST_ENDED_COUNTS] = "SELECT channel, state FROM outbox WHERE state NOT IN ('pending', 'retrying', 'in-flight')",
        [ST_QUEUE_COUNTS] = "SELECT channel, state, count(*) FROM outbox INDEXED BY outbox_waiting"
                            " WHERE state IN ('pending', 'retrying') GROUP BY channel, state"
                            " UNION ALL SELECT channel, state, count(*) FROM outbox INDEXED BY outbox_in_flight"
                            " WHERE channel IN (" DAWN_STORE_CHANNELS ") AND state = 'in-flight' GROUP BY channel",
        [ST_SAVED_ENDED] = "SELECT channel, state, deliveries FROM outbox_ended_saved",
        [ST_SAVED_ENDED_CLEAR] = "DELETE FROM outbox_ended_saved",
        [ST_SAVED_ENDED_ADD] = "INSERT INTO outbox_ended_saved (channel, state, deliveries) VALUES (?1, ?2, ?3)",
        [ST_COUNT_WAITING] = "SELECT count(*) FROM outbox INDEXED BY outbox_waiting WHERE state IN ('pending', 'retrying')",
        /* once, at open: then kept in memory (struct alert_counts) */
        [ST_ALERT_COUNTS] = "SELECT status, grade, count(*) FROM alerts GROUP BY status, grade",
        [ST_ALERT_STATE] = "SELECT status, grade FROM alerts WHERE id = ?1",
        [ST_ALERTS_BY_TYPE] = "SELECT json FROM alerts WHERE type = ?1 AND updated_at >= ?2"
                              " AND status IN ('active', 'pending', 'expired') ORDER BY seq",
        [ST_OPEN_ALERTS_BY_TYPE] = "SELECT json FROM alerts WHERE type = ?1 AND updated_at >= ?2"
                                   " AND status IN ('active', 'pending') ORDER BY seq",
        [ST_OPTOUT_ADD] = "INSERT OR IGNORE INTO sms_optouts (number, via, since) VALUES (?1, ?2, ?3)",
        [ST_OPTOUT_REMOVE] = "DELETE FROM sms_optouts WHERE number = ?1",
        [ST_OPTOUT_GET] = "SELECT 1 FROM sms_optouts WHERE number = ?1",
        [ST_OPTOUT_LIST] = "SELECT number, via, since FROM sms_optouts ORDER BY since",
        [ST_OPTOUT_WAITING] = "UPDATE outbox SET state = 'opted-out', last_error = 'the number replied STOP',"
                              " updated_at = ?2 WHERE channel = 'sms' AND recipient = ?1"
                              " AND state IN ('pending', 'retrying')",
        [ST_ACK_ADD] = "INSERT OR IGNORE INTO acks (alert_id, revision, subscriber, via, by, at)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        [ST_ACK_LIST] = "SELECT subscriber, via, by, revision, at FROM acks WHERE alert_id = ?1 ORDER BY at, id",
        [ST_LOAD_DELIVERY] = "SELECT id, alert_id, revision, subscriber, channel, recipient, action, state,"
                             " attempts, created_at FROM outbox WHERE id = ?1",
        /* clusters: every query goes through an index on the area, so the rows read per
         * overdose report do not grow with the reports in the window */
        /* INDEXED BY: without statistics the planner would take alerts_by_type and read every
         * report of the window, which is the very cost these indexes are here to avoid */
        [ST_OPEN_CLUSTER] = "SELECT id FROM alerts INDEXED BY alerts_open_by_area"
                            " WHERE type = 'cluster' AND status IN ('active', 'pending')"
                            " AND area IN (SELECT value FROM json_each(?1)) AND updated_at >= ?2"
                            " ORDER BY seq LIMIT 1",
        [ST_UNCLUSTERED] = "SELECT json FROM alerts INDEXED BY reports_unclustered WHERE type = 'nfod' AND cluster_id IS NULL"
                           " AND status IN ('active', 'pending', 'expired')"
                           " AND area IN (SELECT value FROM json_each(?1)) AND updated_at >= ?2 ORDER BY seq",
        [ST_SET_REPORT_CLUSTER] = "UPDATE alerts SET cluster_id = ?2 WHERE id = ?1",
        [ST_CLUSTER_ADD_REPORTS] = "INSERT INTO clusters (id, reports) VALUES (?1, ?2)"
                                   " ON CONFLICT (id) DO UPDATE SET reports = reports + excluded.reports",
        [ST_CLUSTER_REPORTS] = "SELECT reports FROM clusters WHERE id = ?1",
        [ST_FIRST_CORROBORATIONS] = "SELECT json FROM corroborations WHERE alert_id = ?1 AND proposal IS NULL"
                                    " ORDER BY id LIMIT ?2",
        [ST_ADD_HELD_CORROBORATION] = "INSERT INTO corroborations (alert_id, source, received_at, json, proposal)"
                                      " VALUES (?1, ?2, ?3, ?4, ?5)",
        [ST_CORROBORATION_REPORT] = "SELECT json FROM corroborations WHERE id = ?1",
        [ST_RELEASE_CORROBORATION] = "UPDATE corroborations SET proposal = NULL WHERE id = ?1",
        [ST_DROP_COUNTED_CORROBORATIONS] = "DELETE FROM corroborations WHERE alert_id = ?1 AND proposal IS NULL",
        [ST_DROP_MERGED] = "DELETE FROM merged WHERE alert_id = ?1",
        [ST_NEXT_PROPOSAL_SEQ] = "SELECT coalesce(max(seq), 0) + 1 FROM proposals",
        [ST_ADD_PROPOSAL] = "INSERT INTO proposals (id, seq, alert_id, corroboration, source, status, grade_from,"
                            " grade_to, created_at, json) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?8, ?9)",
        [ST_LOAD_PROPOSAL] = "SELECT id, seq, alert_id, corroboration, source, status, grade_from, grade_to,"
                             " created_at FROM proposals WHERE id = ?1",
        [ST_PENDING_PROPOSAL_FROM] = "SELECT id, seq, alert_id, corroboration, source, status, grade_from, grade_to,"
                                     " created_at FROM proposals WHERE alert_id = ?1 AND source = ?2"
                                     " AND status = 'pending' ORDER BY seq DESC LIMIT 1",
        [ST_UPDATE_HELD] = "UPDATE corroborations SET json = ?2, proposal = ?3, repeats = repeats + 1, last_at = ?4"
                           " WHERE id = ?1",
        [ST_UPDATE_PROPOSAL] = "UPDATE proposals SET grade_from = ?2, grade_to = ?3, json = ?4"
                               " WHERE id = ?1 AND status = 'pending'",
        [ST_UPDATE_NOTICE_TEXT] = "UPDATE revisions SET json = ?3 WHERE alert_id = ?1 AND revision = ?2",
        [ST_DECIDE_PROPOSAL] = "UPDATE proposals SET status = ?2, decided_by = ?3, reason = ?4, decided_at = ?5"
                               " WHERE id = ?1 AND status = 'pending'",
        [ST_WAITING_PROPOSALS] = "SELECT p.json FROM proposals p JOIN alerts a ON a.id = p.alert_id"
                                 " WHERE p.status = 'pending' AND a.status = 'active' ORDER BY p.seq",
        [ST_CLOSE_PROPOSALS] = "UPDATE proposals SET status = ?2, reason = ?3, decided_by = 'dawnd', decided_at = ?4"
                               " WHERE alert_id = ?1 AND status = 'pending'",
        [ST_SUPERSEDE_NOTICES] = "UPDATE outbox SET state = 'superseded', updated_at = ?4 WHERE alert_id = ?1"
                                 " AND revision BETWEEN ?2 AND ?3 AND state IN ('pending', 'retrying') RETURNING channel",
        [ST_MOVE_DELIVERY] = "UPDATE outbox SET state = ?3, last_error = coalesce(?4, last_error), next_at = ?5,"
                             " updated_at = ?6 WHERE id = ?1 AND state = ?2 RETURNING channel",
        [ST_TWILIO_SEEN] = "INSERT OR IGNORE INTO twilio_requests (sid, kind, seen_at, keep_until) VALUES (?1, ?2, ?3, ?4)",
        /* a bounded number per request taken: pruning never holds up the one that triggers it */
        [ST_TWILIO_PRUNE] = "DELETE FROM twilio_requests WHERE rowid IN (SELECT rowid FROM twilio_requests"
                            " WHERE keep_until < ?1 ORDER BY keep_until LIMIT 64)",
        /* a text reaches a number once the gateway has it; a dashboard once the broker has it */
        [ST_REACHED] = "SELECT subscriber, max(revision) FROM outbox WHERE alert_id = ?1 AND channel = ?2"
                       " AND (?3 IS NULL OR subscriber = ?3) AND (?4 IS NULL OR recipient = ?4)"
                       " AND action = 'publish' AND state IN ('sent', 'delivered')"
                       " GROUP BY subscriber ORDER BY max(revision) DESC, subscriber LIMIT 1",
        /* public text subscriptions (issue 13 part 2) */
        [ST_PUBLIC_JOIN] = "INSERT OR IGNORE INTO public_subscribers (number, area, joined_at) VALUES (?1, ?2, ?3)",
        [ST_PUBLIC_MEMBER] = "SELECT 1 FROM public_subscribers WHERE number = ?1 LIMIT 1",
        [ST_PUBLIC_NUMBERS] = "SELECT count(DISTINCT number) FROM public_subscribers",
        [ST_PUBLIC_LEAVE] = "DELETE FROM public_subscribers WHERE number = ?1",
        [ST_PUBLIC_JOINS_PRUNE] = "DELETE FROM public_joins WHERE day < ?1",
        [ST_PUBLIC_JOINS_NOTE] = "INSERT INTO public_joins (number, day, joins) VALUES (?1, ?2, 1)"
                                 " ON CONFLICT (number, day) DO UPDATE SET joins = joins + 1 RETURNING joins",
        [ST_PUBLIC_COUNTS] = "SELECT area, count(*) FROM public_subscribers GROUP BY area ORDER BY area",
        [ST_PUBLIC_IN_AREA] = "SELECT number FROM public_subscribers WHERE area = ?1",
        [ST_PUBLIC_ADD_DELIVERY] = "INSERT OR IGNORE INTO outbox (alert_id, revision, subscriber, channel, recipient,"
                                   " action, created_at, updated_at, purpose) VALUES (?1, ?2, 'public', 'sms', ?3, ?4,"
                                   " ?5, ?5, 'public')",
        /* reached by a publish and not withdrawn since: told once that it is over */
        [ST_PUBLIC_REACHED] = "SELECT recipient FROM outbox WHERE alert_id = ?1 AND purpose = 'public'"
                              " GROUP BY recipient HAVING max(CASE WHEN action = 'publish' AND state IN"
                              " ('in-flight', 'sent', 'delivered') THEN revision END)"
                              " > coalesce(max(CASE WHEN action = 'withdraw' THEN revision END), 0)"
                              /* a number that left (STOP, dawnctl public --remove) is sent nothing more,
                               * not even that an alert it heard of is over */
                              " AND recipient IN (SELECT number FROM public_subscribers)",
        /* what still waits for a number that left is not sent */
        [ST_PUBLIC_HOLD_WAITING] = "UPDATE outbox SET state = 'opted-out', last_error = 'removed from public texts',"
                                   " updated_at = ?2 WHERE channel = 'sms' AND recipient = ?1 AND purpose = 'public'"
                                   " AND state IN ('pending', 'retrying')",
        /* numbers a publish of revision ?2 or later reached, or is reaching */
        [ST_PUBLIC_TOLD] = "SELECT DISTINCT recipient FROM outbox WHERE alert_id = ?1 AND purpose = 'public'"
                           " AND action = 'publish' AND revision >= ?2 AND state IN ('in-flight', 'sent', 'delivered')",
        /* CAP (issue 14): revisions recipients saw, newest first: not a pending one
         * (a reporter's, waiting for review), not a review notice's */
        [ST_CAP_PUBLISHED] = "SELECT json FROM revisions WHERE alert_id = ?1 AND revision <= ?2 AND revision < ?3"
                             " AND json_extract(json, '$.status') <> 'pending' ORDER BY revision DESC LIMIT 2",
        /* channel pauses (issue 14): a paused channel's waiting deliveries get the paused
         * interval [?2, ?3] back on their lifetime clock; one created during it counts from ?3 */
        [ST_CREDIT_PAUSE] = "UPDATE outbox INDEXED BY outbox_waiting SET created_at = created_at + (?3 - max(created_at, ?2))"
                            " WHERE channel = ?1 AND state IN ('pending', 'retrying') AND created_at < ?3",
        [ST_OLDEST_WAITING] = "SELECT min(created_at) FROM outbox INDEXED BY outbox_waiting"
                              " WHERE channel = ?1 AND state IN ('pending', 'retrying')",
        [ST_SAVEPOINT] = "SAVEPOINT request",
        [ST_RELEASE] = "RELEASE request",
        [ST_ROLLBACK_TO] = "ROLLBACK TO request",
        /* history and audit: one alert's events from every table that records one, in the
         * order they happened (and, at one instant, the cause before its effects). Audit
         * rows are the spine; an ack or an escalation is read from its own table, which
         * says more (the revision, the deadline), so its audit row is left out here. */
        [ST_HISTORY] =
                "SELECT at, actor, event, revision, detail FROM ("
                /* every decision about the alert, with the revision it made, if it made one */
                " SELECT a.at AS at, 0 AS rank, a.id AS ord, a.actor AS actor, a.action AS event,"
                "  (SELECT max(r.revision) FROM revisions r WHERE r.alert_id = a.alert_id AND r.created_at = a.at"
                "   AND r.revision < 100000000) AS revision, a.detail AS detail"
                " FROM audit a INDEXED BY audit_by_alert WHERE a.alert_id = ?1 AND a.action NOT IN ('ack', 'escalate')"
                /* its grade as each revision had it, when that changed, with the reasons: the
                 * revisions keep the reasons, the audit rows only the change */
                " UNION ALL SELECT g.created_at, 1, g.revision,"
                "  coalesce((SELECT x.actor FROM audit x INDEXED BY audit_by_alert WHERE x.alert_id = ?1"
                "   AND x.at = g.created_at ORDER BY x.id LIMIT 1), 'dawnd (grading)'), 'grade', g.revision,"
                "  CASE WHEN g.prev IS NULL THEN g.grade ELSE g.prev || ' -> ' || g.grade END"
                "  || coalesce(': ' || (SELECT group_concat(j.value, '; ')"
                "   FROM json_each(g.json, '$.grade_reasons') j), '')"
                " FROM (SELECT created_at, revision, json, json_extract(json, '$.grade') AS grade,"
                "   lag(json_extract(json, '$.grade')) OVER (ORDER BY revision) AS prev"
                "   FROM revisions WHERE alert_id = ?1 AND revision < 100000000 AND json_valid(json)) g"
                "  WHERE g.prev IS NULL OR g.prev <> g.grade"
                /* acknowledgements */
                " UNION ALL SELECT k.at, 2, k.id,"
                "  CASE k.via WHEN 'sms' THEN 'sms:' || k.by || ' (' || k.subscriber || ')'"
                "   WHEN 'dashboard' THEN 'mqtt:' || k.subscriber ELSE k.via || ':' || k.subscriber END,"
                "  'ack', k.revision,"
                "  k.subscriber || ' acknowledged revision ' || k.revision || CASE k.via WHEN 'sms' THEN ' by text'"
                "   WHEN 'dashboard' THEN ' on the dashboard by ' || k.by ELSE ' (' || k.via || ') by ' || k.by END"
                " FROM acks k WHERE k.alert_id = ?1"
                /* proposals dawnd closed itself (the alert ended): no one decided, so no audit row */
                " UNION ALL SELECT p.decided_at, 2, p.seq, 'dawnd', 'proposal-' || p.status, NULL,"
                "  p.id || ' (' || p.grade_from || ' -> ' || p.grade_to || ' from ' || p.source || ')'"
                "  || coalesce(': ' || p.reason, '')"
                " FROM proposals p WHERE p.alert_id = ?1 AND p.decided_by = 'dawnd' AND p.decided_at IS NOT NULL"
                /* escalation clocks: when each started, and how it ended */
                " UNION ALL SELECT e.started_at, 3, e.rowid, 'dawnd (escalation)', 'escalation-wait', NULL,"
                "  'waiting for ' || e.subscriber || ' to acknowledge, until '"
                "  || strftime('%Y-%m-%dT%H:%M:%SZ', e.due_at / 1000000, 'unixepoch')"
                " FROM escalations e WHERE e.alert_id = ?1"
                " UNION ALL SELECT e.decided_at, 4, e.rowid, 'dawnd (escalation)',"
                "  CASE e.state WHEN 'escalated' THEN 'escalate' ELSE 'escalation-' || e.state END, NULL,"
                "  CASE e.state WHEN 'escalated' THEN 'not acknowledged by ' || e.subscriber || '; told '"
                "   || CASE WHEN json_valid(e.detail) AND json_type(e.detail) = 'array'"
                "    THEN (SELECT group_concat(j.value, ', ') FROM json_each(e.detail) j)"
                "    ELSE coalesce(e.detail, '?') END"
                "   WHEN 'acknowledged' THEN e.subscriber || ' acknowledged (by ' || coalesce(e.detail, '?') || ')'"
                "   ELSE e.subscriber || ': ' || coalesce(e.detail, e.state) END"
                " FROM escalations e WHERE e.alert_id = ?1 AND e.state <> 'waiting' AND e.decided_at IS NOT NULL"
                ") ORDER BY at, rank, ord LIMIT ?2",
        /* the latest rows since a time (of one actor), newest first */
        [ST_AUDIT_LIST] = "SELECT at, actor, action, alert_id, detail FROM audit INDEXED BY audit_by_time"
                          " WHERE at >= ?1 AND (?2 IS NULL OR actor = ?2) ORDER BY at DESC, id DESC LIMIT ?3",
        /* retention: ?1 is "ended before" (µs), or the JSON array of the batch's alert ids */
        [ST_PRUNE_BATCH] = "SELECT id, (SELECT count(*) FROM outbox o WHERE o.alert_id = alerts.id)"
                           " FROM alerts INDEXED BY alerts_ended WHERE" PRUNABLE " ORDER BY updated_at LIMIT ?2",
        [ST_PRUNE_PREVIEW_ALERTS] = "SELECT count(*) FROM alerts INDEXED BY alerts_ended WHERE" PRUNABLE,
        [ST_PRUNE_PREVIEW_DELIVERIES] = "SELECT channel, count(*) FROM outbox WHERE alert_id IN"
                                        " (SELECT id FROM alerts INDEXED BY alerts_ended WHERE" PRUNABLE ")"
                                        " GROUP BY channel ORDER BY channel",
        [ST_PRUNE_COUNT] = "SELECT alert_id, channel, count(*) FROM outbox"
                           " WHERE alert_id IN (SELECT value FROM json_each(?1))"
                           " GROUP BY alert_id, channel ORDER BY alert_id, channel",
        [ST_PRUNE_TOTALS] = "INSERT INTO delivery_totals (alert_id, channel, purpose, state, deliveries)"
                            " SELECT alert_id, channel, purpose, state, count(*) FROM outbox"
                            " WHERE alert_id IN (SELECT value FROM json_each(?1))"
                            " GROUP BY alert_id, channel, purpose, state"
                            " ON CONFLICT (alert_id, channel, purpose, state)"
                            " DO UPDATE SET deliveries = deliveries + excluded.deliveries",
        /* how long a delivery took to reach the peer (the gateway's receipt for 'delivered',
         * its acceptance for 'sent'); public texts queue behind professional ones on purpose
         * and would only blur the figure the panel reads */
        [ST_PRUNE_TIMES] = "INSERT INTO delivery_times (alert_id, channel, usec)"
                           " SELECT alert_id, channel, max(updated_at - created_at, 0) FROM outbox"
                           " WHERE alert_id IN (SELECT value FROM json_each(?1))"
                           " AND state IN ('delivered', 'sent') AND purpose <> 'public'",
        [ST_PRUNE_OUTBOX] = "DELETE FROM outbox WHERE alert_id IN (SELECT value FROM json_each(?1))"
                            " RETURNING channel, state",
        /* who acknowledged (a name typed at a dashboard, a masked number) goes; that the
         * subscriber acknowledged, and when, stays. Rows in id order, so that where two
         * acknowledgements become one the earliest is kept. */
        [ST_PRUNE_ACKS_MASK] = "UPDATE OR IGNORE acks SET by = '(removed)'"
                               " WHERE alert_id IN (SELECT value FROM json_each(?1)) AND by <> '(removed)'",
        [ST_PRUNE_ACKS_DROP] = "DELETE FROM acks WHERE alert_id IN (SELECT value FROM json_each(?1))"
                               " AND by <> '(removed)'",
        [ST_PRUNE_ESCALATIONS] = "UPDATE escalations SET detail = '(removed)'"
                                 " WHERE alert_id IN (SELECT value FROM json_each(?1)) AND state = 'acknowledged'",
        [ST_PRUNE_MARK] = "UPDATE alerts SET pruned_at = ?2 WHERE id IN (SELECT value FROM json_each(?1))",
        /* an audit row names a texter by masked number ("sms:+4477******23 (hostel-a)"): past
         * the retention period it keeps whose number it was, not the number, and a free-text
         * reply keeps that there was one, not its words */
        [ST_PRUNE_AUDIT] = "UPDATE audit SET actor = 'sms' || CASE WHEN instr(actor, ' (') > 0"
                           " THEN substr(actor, instr(actor, ' (')) ELSE '' END,"
                           " detail = CASE WHEN action = 'sms-reply'"
                           " THEN 'text reply (its words were removed after the retention period)' ELSE detail END"
                           " WHERE id IN (SELECT id FROM audit WHERE at < ?1 AND actor LIKE 'sms:%'"
                           " ORDER BY id LIMIT ?2)",
        /* the JOIN cap counts per day: yesterday's and older rows are of no use */
        [ST_PRUNE_JOINS] = "DELETE FROM public_joins WHERE rowid IN (SELECT rowid FROM public_joins"
                           " WHERE day < ?1 LIMIT ?2)",
        [ST_DELIVERY_TOTALS] = "SELECT channel, state, sum(deliveries) FROM delivery_totals WHERE alert_id = ?1"
                               " GROUP BY channel, state ORDER BY channel, state",
        [ST_PRUNED_AT] = "SELECT pruned_at FROM alerts WHERE id = ?1",
        /* ---- escalation ---- */
        /* the first escalating revision starts the clock; later ones find the row and leave it,
         * except one stopped because the alert's grade no longer escalated (escalation.c): an
         * alert upgraded again is a new escalating episode, with a deadline of its own */
        [ST_ESC_START] = "INSERT INTO escalations (alert_id, subscriber, started_at, due_at)"
                         " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (alert_id, subscriber) DO UPDATE SET"
                         " state = 'waiting', started_at = excluded.started_at, due_at = excluded.due_at,"
                         " decided_at = NULL, detail = NULL"
                         " WHERE escalations.state = 'stopped' AND escalations.detail LIKE 'grade % does not escalate'",
        [ST_ESC_DECIDE] = "UPDATE escalations SET state = ?3, detail = ?4, decided_at = ?5"
                          " WHERE alert_id = ?1 AND subscriber = ?2 AND state = 'waiting'",
        [ST_ESC_STOP_ALL] = "UPDATE escalations SET state = 'stopped', detail = ?2, decided_at = ?3"
                            " WHERE alert_id = ?1 AND state = 'waiting'",
        [ST_ESC_DUE] = "SELECT alert_id, subscriber, started_at, due_at FROM escalations"
                       " WHERE state = 'waiting' AND due_at <= ?1 ORDER BY due_at LIMIT ?2",
        [ST_ESC_NEXT] = "SELECT min(due_at) FROM escalations WHERE state = 'waiting'",
        [ST_ESC_FIRST_ACK] = "SELECT by, at FROM acks WHERE alert_id = ?1 AND subscriber = ?2 ORDER BY at, id LIMIT 1",
        [ST_ESC_ADD_DELIVERY] = "INSERT OR IGNORE INTO outbox (alert_id, revision, subscriber, channel, recipient, action,"
                                " created_at, updated_at, purpose, about) VALUES (?1, ?2, ?3, ?4, ?5, 'publish', ?6, ?6, ?7, ?8)",
        [ST_ESC_LIST] = "SELECT subscriber, state, started_at, due_at, decided_at, detail FROM escalations"
                        " WHERE alert_id = ?1 ORDER BY started_at, subscriber",
        /* what became of the alert's own deliveries to a subscriber, per channel: the best state wins */
        [ST_ESC_STATES] = "SELECT channel, state FROM outbox WHERE alert_id = ?1 AND subscriber = ?2"
                          " AND purpose = 'alert' AND action = 'publish'",
        [ST_ESC_UNACKED] = "SELECT a.id, a.grade, o.subscriber, e.state, e.due_at, e.decided_at, e.detail"
                           " FROM alerts a JOIN outbox o ON o.alert_id = a.id"
                           " LEFT JOIN escalations e ON e.alert_id = a.id AND e.subscriber = o.subscriber"
                           " WHERE a.status = 'active' AND o.purpose = 'alert' AND o.action = 'publish'"
                           " AND o.subscriber <> '' AND NOT EXISTS (SELECT 1 FROM acks k"
                           " WHERE k.alert_id = a.id AND k.subscriber = o.subscriber)"
                           " GROUP BY a.id, o.subscriber ORDER BY a.seq DESC, o.subscriber LIMIT ?1",
        [ST_ESC_COUNT_WAITING] = "SELECT count(*) FROM escalations WHERE state = 'waiting'",
        [ST_ESC_LOAD] = "SELECT started_at, decided_at, state FROM escalations WHERE alert_id = ?1 AND subscriber = ?2",
        /* ---- the panel's summary: reads only, each bounded by LIMIT ?3 ---- */
        [ST_SUMMARY_ALERTS] = SUMMARY_WINDOW SUMMARY_ALERTS_OF_W,
        [ST_SUMMARY_DELIVERIES] = SUMMARY_WINDOW SUMMARY_DELIVERIES_OF_W,
        [ST_SUMMARY_DELIVERY_TIMES] = SUMMARY_WINDOW SUMMARY_DELIVERY_TIMES_OF_W,
        [ST_SUMMARY_ACKS] = SUMMARY_WINDOW SUMMARY_ACKS_OF_W,
        [ST_SUMMARY_ESCALATIONS] = SUMMARY_WINDOW SUMMARY_ESCALATIONS_OF_W,
        [ST_SUMMARY_PEOPLE] = "SELECT (SELECT count(*) FROM sms_optouts),"
                              " (SELECT count(*) FROM sms_optouts WHERE since >= ?1 AND since < ?2),"
                              " (SELECT count(DISTINCT number) FROM public_subscribers),"
                              " (SELECT count(*) FROM public_subscribers),"
                              " (SELECT count(*) FROM public_subscribers WHERE joined_at >= ?1 AND joined_at < ?2)",
        /* ---- SMS replies ---- */
        [ST_REPLY_ADD] = "INSERT INTO sms_replies (number, body, kind, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        [ST_REPLY_RECENT] = "SELECT count(*) FROM sms_replies WHERE number = ?1 AND created_at >= ?2",
        [ST_REPLY_WAITING] = "SELECT count(*) FROM sms_replies WHERE state IN ('pending', 'retrying', 'in-flight')",
        /* opted_out: the number replied STOP, and this is not that STOP's confirmation */
        [ST_REPLY_DUE] = "SELECT r.id, r.number, r.body, r.kind, r.state, r.attempts, r.created_at,"
                         " r.kind <> 'stop' AND EXISTS (SELECT 1 FROM sms_optouts o WHERE o.number = r.number)"
                         " FROM sms_replies r WHERE r.state IN ('pending', 'retrying') AND r.next_at <= ?1"
                         " AND r.id < ?3 ORDER BY r.next_at, r.id LIMIT ?2",
        [ST_REPLY_NEXT_DUE] = "SELECT min(next_at) FROM sms_replies WHERE state IN ('pending', 'retrying')",
        [ST_REPLY_LOAD] = "SELECT id, number, body, kind, state, attempts, created_at, 0 FROM sms_replies WHERE id = ?1",
        /* only from the state the caller read (the transition table's word) */
        [ST_REPLY_MOVE] = "UPDATE sms_replies SET state = ?3, last_error = ?4, next_at = ?5, updated_at = ?6,"
                          " attempts = attempts + (?3 = 'in-flight') WHERE id = ?1 AND state = ?2",
        /* a provider's receipt: whichever node it reaches (one node, no claims here) */
        [ST_REPLY_RECEIPT_MOVE] = "UPDATE sms_replies SET state = ?3, last_error = ?4, next_at = ?5, updated_at = ?6,"
                                  " attempts = attempts + (?3 = 'in-flight') WHERE id = ?1 AND state = ?2",
        [ST_REPLY_FAIL_EXPIRED] = "UPDATE sms_replies SET state = 'failed', last_error = ?2, updated_at = ?3"
                                  " WHERE state IN ('pending', 'retrying') AND created_at < ?1",
        [ST_REPLY_REQUEUE] = "UPDATE sms_replies SET state = 'pending', updated_at = ?1 WHERE state = 'in-flight'",
        /* the numbers go with the rows: ended replies older than the retention period */
        [ST_REPLY_PRUNE] = "DELETE FROM sms_replies WHERE id IN (SELECT id FROM sms_replies"
                           " WHERE state NOT IN ('pending', 'retrying', 'in-flight') AND updated_at < ?1 LIMIT ?2)",
        /* ---- issue 13 review ---- */
        /* every subscriber whose text of the alert reached one number (a phone two of them share);
         * not a public text (subscriber 'public'): the public are not asked to acknowledge */
        [ST_ERASE_JOINS] = "DELETE FROM public_joins WHERE number = ?1",
        /* one on its way keeps its row until the gateway answers for it */
        [ST_ERASE_REPLIES] = "DELETE FROM sms_replies WHERE number = ?1 AND state <> 'in-flight'",
        /* ---- several nodes (issue 15) ---- */
        /* ?4: when this node started, or NULL for a heartbeat that is not its first */
        [ST_NODE_BEAT] = "INSERT INTO nodes (id, started_at, heartbeat_at, version) VALUES (?1, coalesce(CAST(?4 AS BIGINT), ?2), ?2, ?3)"
                         " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,"
                         " started_at = coalesce(CAST(?4 AS BIGINT), nodes.started_at), version = excluded.version",
        /* one node: what is in flight is its own */
        [ST_NODES] = "SELECT id, started_at, heartbeat_at, version, (SELECT count(*) FROM outbox INDEXED BY outbox_in_flight"
                     " WHERE channel IN (" DAWN_STORE_CHANNELS ") AND state = 'in-flight') FROM nodes ORDER BY id",
        /* one channel's, when a reload restarts it: the others keep theirs in flight */
        [ST_REQUEUE_CHANNEL] = "UPDATE outbox INDEXED BY outbox_in_flight SET state = 'pending', updated_at = ?1"
                               " WHERE channel = ?3 AND state = 'in-flight'",
        /* ST_LEASE_EXTEND, ST_RECLAIM: PostgreSQL's only (one SQLite node claims nothing) */
        [ST_REACHED_ALL] = "SELECT subscriber, max(revision) FROM outbox WHERE alert_id = ?1 AND channel = 'sms'"
                           " AND recipient = ?2 AND action = 'publish' AND state IN ('sent', 'delivered')"
                           " AND purpose <> 'public'"
                           " GROUP BY subscriber ORDER BY subscriber LIMIT ?3",
};

/* The statements whose PostgreSQL text differs from SQLite's by more than its
 * placeholders and INDEXED BY hints (db_pg.c turns ?N into $N, drops the hints
 * and the numbers a statement does not use): INSERT OR IGNORE is ON CONFLICT DO
 * NOTHING; an insert whose id the store keeps says RETURNING id (db_pg.c keeps
 * it as SQLite's last insert rowid); SQLite's JSON functions are jsonb's; a
 * boolean is not a number to add or take the max of; a parameter only tested
 * for NULL needs its type said; SQLite's scalar max(a, b) is GREATEST. */
#define PG_SUMMARY_WINDOW                                                                                     \
        "WITH w AS MATERIALIZED (SELECT * FROM (SELECT a.id AS id, a.type AS type, a.grade AS grade,"             \
        " a.area AS area, a.pruned_at AS pruned_at,"                                                           \
        " (SELECT min(r.created_at) FROM revisions r WHERE r.alert_id = a.id AND r.revision < 100000000"        \
        "  AND r.json::jsonb ->> 'status' = 'active') AS out_at,"                                               \
        " (SELECT min(r.revision) FROM revisions r WHERE r.alert_id = a.id AND r.revision < 100000000"          \
        "  AND r.json::jsonb ->> 'status' = 'active') AS first_rev,"                                            \
        " CASE WHEN a.type = 'cluster' THEN coalesce((SELECT min(rep.issued_at) FROM corroborations c"         \
        "  JOIN alerts rep ON rep.id = c.json::jsonb ->> 'id' WHERE c.alert_id = a.id), a.issued_at)"           \
        "  ELSE a.issued_at END AS first_report_at"                                                           \
        " FROM alerts a WHERE a.type IN ('batch', 'cluster', 'nfod') AND a.updated_at >= ?1 LIMIT ?3) x"      \
        " WHERE out_at >= ?1 AND out_at < ?2) "
/* the database's clock in µs: every node's claims are timed by the same one */
#define PG_NOW_USEC "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
/* a JSON array of ids, bound as text */
#define PG_IDS "(SELECT jsonb_array_elements_text(?1::jsonb))"

static const char *const stmt_sql_pg[ST_COUNT] = {
        /* ---- several nodes on one database (README "Running several nodes") ---- */
        /* ids from sequences: max + 1 is read by two nodes at once */
        [ST_NEXT_SEQ] = "SELECT nextval('alert_seq')",
        [ST_NEXT_PROPOSAL_SEQ] = "SELECT nextval('proposal_seq')",
        /* a due row another node is claiming (its batch has it locked) is skipped, not
         * waited for: the loop never waits on another node */
        [ST_DUE] = DUE_SQL("<>") " FOR UPDATE OF o SKIP LOCKED",
        [ST_DUE_PUBLIC] = DUE_SQL("=") " FOR UPDATE OF o SKIP LOCKED",
        /* The claim: this node's, until its lease (?4) runs out on the database's clock, which
         * every node reads alike, whatever their own clocks say. Its heartbeat extends it for
         * what the node still has in flight. */
        [ST_STARTED] = "UPDATE outbox SET state = 'in-flight', attempts = attempts + 1, updated_at = ?2,"
                       " claimed_by = ?3, claimed_until = " PG_NOW_USEC " + ?4"
                       " WHERE id = ?1 AND state IN ('pending', 'retrying')",
        /* a result for a row in flight only from the node that holds its claim: one taken over
         * after its lease ran out (and sent again) is the new claimant's to finish */
        [ST_FINISHED] = "UPDATE outbox SET state = ?2, last_error = ?3, next_at = ?4, updated_at = ?5, claimed_by = NULL"
                        " WHERE id = ?1 AND ((state = 'in-flight' AND claimed_by = ?6)"
                        " OR (?2 IN ('pending', 'failed') AND state IN ('pending', 'retrying')))"
                        " RETURNING channel",
        /* at a start: this node's own claims go back (it was not answered for them), and
         * any whose node's lease ran out; never another live node's */
        [ST_REQUEUE] = "UPDATE outbox SET state = 'pending', updated_at = ?1, claimed_by = NULL"
                       " WHERE state = 'in-flight' AND (claimed_by = ?2 OR claimed_by IS NULL"
                       " OR claimed_until < " PG_NOW_USEC ")",
        [ST_REQUEUE_CHANNEL] = "UPDATE outbox SET state = 'pending', updated_at = ?1, claimed_by = NULL"
                               " WHERE channel = ?3 AND state = 'in-flight' AND claimed_by = ?2",
        [ST_NODES] = "SELECT n.id, n.started_at, n.heartbeat_at, n.version, (SELECT count(*) FROM outbox o"
                     " WHERE o.state = 'in-flight' AND o.claimed_by = n.id) FROM nodes n ORDER BY n.id",
        /* only what the node still has in flight (?3: its ids, '{1,2}'): a claim whose result
         * it recorded in a batch that did not commit is in no table of its own any more, and
         * runs out to be sent again, not held for as long as the node lives */
        [ST_LEASE_EXTEND] = "UPDATE outbox SET claimed_until = " PG_NOW_USEC " + ?2"
                            " WHERE state = 'in-flight' AND claimed_by = ?1 AND id = ANY (CAST(?3 AS BIGINT[]))",
        /* claims whose lease ran out, a dead node's or this one's own left behind: sent again by
         * whoever finds them (at least once) */
        /* Intake in one area, one node at a time (its transaction): two nodes taking
         * reports of the same batch, or overdoses in the same area, at the same moment
         * would each find no alert or cluster to join and make two. Blocking, but only
         * for as long as the other node's batch takes to commit (lock_timeout at most). */
        [ST_LOCK_AREA] = "SELECT pg_advisory_xact_lock(" DAWN_PG_LOCK_AREAS ", hashtext(?1))",
        /* A timer's work (expiry, escalation deadlines, retention) on one node at a time:
         * a node that finds another doing it leaves it to that one. */
        [ST_TRY_JOB] = "SELECT pg_try_advisory_xact_lock(" DAWN_PG_LOCK_JOBS ", CAST(?1 AS INTEGER))",
        [ST_RECLAIM] = "UPDATE outbox SET state = 'retrying', next_at = 0, updated_at = ?1, claimed_by = NULL,"
                       " last_error = 'its node stopped answering: sent again' WHERE state = 'in-flight'"
                       " AND claimed_until < " PG_NOW_USEC,
        [ST_ADD_CORROBORATION] = "INSERT INTO corroborations (alert_id, source, received_at, json) VALUES (?, ?, ?, ?)"
                                 " RETURNING id",
        [ST_ADD_DELIVERY] = "INSERT INTO outbox (alert_id, revision, subscriber, channel, recipient, action,"
                            " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)"
                            " ON CONFLICT DO NOTHING RETURNING id",
        [ST_RECIPIENTS] = "SELECT subscriber, channel, recipient,"
                          " max(CASE WHEN state IN ('delivered', 'in-flight', 'sent') THEN 1 ELSE 0 END),"
                          " min(CASE WHEN purpose = 'escalation' THEN 1 ELSE 0 END) FROM outbox"
                          " WHERE alert_id = ? AND action = 'publish'"
                          " GROUP BY subscriber, channel, recipient ORDER BY subscriber, channel, recipient",
        [ST_QUEUE_COUNTS] = "SELECT channel, state, count(*) FROM outbox WHERE state IN ('pending', 'retrying')"
                            " GROUP BY channel, state UNION ALL SELECT channel, state, count(*) FROM outbox"
                            " WHERE state = 'in-flight' GROUP BY channel, state",
        /* The counts one node keeps in memory would miss what the others did: each node
         * adds its batch's changes to rows of its own as the batch commits (?2..?4: arrays),
         * and a count is their sum */
        [ST_ADD_DELIVERY_COUNTS] = "INSERT INTO delivery_counts AS d SELECT ?1, c, s, n FROM unnest(CAST(?2 AS TEXT[]),"
                                   " CAST(?3 AS TEXT[]), CAST(?4 AS BIGINT[])) AS t(c, s, n)"
                                   " ON CONFLICT (node, channel, state) DO UPDATE SET deliveries = d.deliveries"
                                   " + EXCLUDED.deliveries",
        [ST_ADD_ALERT_COUNTS] = "INSERT INTO alert_counts AS a SELECT ?1, st, g, n FROM unnest(CAST(?2 AS TEXT[]),"
                                " CAST(?3 AS TEXT[]), CAST(?4 AS BIGINT[])) AS t(st, g, n)"
                                " ON CONFLICT (node, status, grade) DO UPDATE SET alerts = a.alerts + EXCLUDED.alerts",
        [ST_ENDED_SUMS] = "SELECT channel, state, sum(deliveries) FROM delivery_counts GROUP BY channel, state",
        [ST_ALERT_COUNTS] = "SELECT status, grade, sum(alerts) FROM alert_counts GROUP BY status, grade",
        [ST_OPTOUT_ADD] = "INSERT INTO sms_optouts (number, via, since) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        [ST_ACK_ADD] = "INSERT INTO acks (alert_id, revision, subscriber, via, by, at)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        [ST_TWILIO_SEEN] = "INSERT INTO twilio_requests (sid, kind, seen_at, keep_until) VALUES (?1, ?2, ?3, ?4)"
                           " ON CONFLICT DO NOTHING",
        [ST_TWILIO_PRUNE] = "DELETE FROM twilio_requests WHERE ctid IN (SELECT ctid FROM twilio_requests"
                            " WHERE keep_until < ?1 ORDER BY keep_until LIMIT 64)",
        [ST_REACHED] = "SELECT subscriber, max(revision) FROM outbox WHERE alert_id = ?1 AND channel = ?2"
                       " AND (?3::text IS NULL OR subscriber = ?3) AND (?4::text IS NULL OR recipient = ?4)"
                       " AND action = 'publish' AND state IN ('sent', 'delivered')"
                       " GROUP BY subscriber ORDER BY max(revision) DESC, subscriber LIMIT 1",
        [ST_OPEN_CLUSTER] = "SELECT id FROM alerts WHERE type = 'cluster' AND status IN ('active', 'pending')"
                            " AND area IN " PG_IDS " AND updated_at >= ?2 ORDER BY seq LIMIT 1",
        [ST_UNCLUSTERED] = "SELECT json FROM alerts WHERE type = 'nfod' AND cluster_id IS NULL"
                           " AND status IN ('active', 'pending', 'expired')"
                           " AND area IN " PG_IDS " AND updated_at >= ?2 ORDER BY seq",
        [ST_CLUSTER_ADD_REPORTS] = "INSERT INTO clusters (id, reports) VALUES (?1, ?2)"
                                   " ON CONFLICT (id) DO UPDATE SET reports = clusters.reports + excluded.reports",
        [ST_ADD_HELD_CORROBORATION] = "INSERT INTO corroborations (alert_id, source, received_at, json, proposal)"
                                      " VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        /* SQLite takes a negative LIMIT as none; PostgreSQL refuses it, and takes NULL so */
        [ST_FIRST_CORROBORATIONS] = "SELECT json FROM corroborations WHERE alert_id = ?1 AND proposal IS NULL"
                                    " ORDER BY id LIMIT CASE WHEN ?2 < 0 THEN NULL ELSE ?2 END",
        [ST_PUBLIC_JOIN] = "INSERT INTO public_subscribers (number, area, joined_at) VALUES (?1, ?2, ?3)"
                           " ON CONFLICT DO NOTHING",
        [ST_PUBLIC_JOINS_NOTE] = "INSERT INTO public_joins (number, day, joins) VALUES (?1, ?2, 1)"
                                 " ON CONFLICT (number, day) DO UPDATE SET joins = public_joins.joins + 1 RETURNING joins",
        [ST_PUBLIC_ADD_DELIVERY] = "INSERT INTO outbox (alert_id, revision, subscriber, channel, recipient,"
                                   " action, created_at, updated_at, purpose) VALUES (?1, ?2, 'public', 'sms', ?3, ?4,"
                                   " ?5, ?5, 'public') ON CONFLICT DO NOTHING RETURNING id",
        [ST_CAP_PUBLISHED] = "SELECT json FROM revisions WHERE alert_id = ?1 AND revision <= ?2 AND revision < ?3"
                             " AND json::jsonb ->> 'status' <> 'pending' ORDER BY revision DESC LIMIT 2",
        [ST_CREDIT_PAUSE] = "UPDATE outbox SET created_at = created_at + (?3 - GREATEST(created_at, ?2))"
                            " WHERE channel = ?1 AND state IN ('pending', 'retrying') AND created_at < ?3",
        [ST_HISTORY] =
                "SELECT at, actor, event, revision, detail FROM ("
                " SELECT a.at AS at, 0 AS rank, a.id AS ord, a.actor AS actor, a.action AS event,"
                "  (SELECT max(r.revision) FROM revisions r WHERE r.alert_id = a.alert_id AND r.created_at = a.at"
                "   AND r.revision < 100000000) AS revision, a.detail AS detail"
                " FROM audit a WHERE a.alert_id = ?1 AND a.action NOT IN ('ack', 'escalate')"
                " UNION ALL SELECT g.created_at, 1, g.revision,"
                "  coalesce((SELECT x.actor FROM audit x WHERE x.alert_id = ?1"
                "   AND x.at = g.created_at ORDER BY x.id LIMIT 1), 'dawnd (grading)'), 'grade', g.revision,"
                "  CASE WHEN g.prev IS NULL THEN g.grade ELSE g.prev || ' -> ' || g.grade END"
                "  || coalesce(': ' || (SELECT string_agg(j, '; ')"
                "   FROM jsonb_array_elements_text(g.json::jsonb -> 'grade_reasons') j), '')"
                " FROM (SELECT created_at, revision, json, json::jsonb ->> 'grade' AS grade,"
                "   lag(json::jsonb ->> 'grade') OVER (ORDER BY revision) AS prev"
                "   FROM revisions WHERE alert_id = ?1 AND revision < 100000000) g"
                "  WHERE g.prev IS NULL OR g.prev <> g.grade"
                " UNION ALL SELECT k.at, 2, k.id,"
                "  CASE k.via WHEN 'sms' THEN 'sms:' || k.by || ' (' || k.subscriber || ')'"
                "   WHEN 'dashboard' THEN 'mqtt:' || k.subscriber ELSE k.via || ':' || k.subscriber END,"
                "  'ack', k.revision,"
                "  k.subscriber || ' acknowledged revision ' || k.revision || CASE k.via WHEN 'sms' THEN ' by text'"
                "   WHEN 'dashboard' THEN ' on the dashboard by ' || k.by ELSE ' (' || k.via || ') by ' || k.by END"
                " FROM acks k WHERE k.alert_id = ?1"
                " UNION ALL SELECT p.decided_at, 2, p.seq, 'dawnd', 'proposal-' || p.status, NULL,"
                "  p.id || ' (' || p.grade_from || ' -> ' || p.grade_to || ' from ' || p.source || ')'"
                "  || coalesce(': ' || p.reason, '')"
                " FROM proposals p WHERE p.alert_id = ?1 AND p.decided_by = 'dawnd' AND p.decided_at IS NOT NULL"
                /* e.id: SQLite's rowid, the order two clocks started at once were started in */
                " UNION ALL SELECT e.started_at, 3, e.id, 'dawnd (escalation)', 'escalation-wait', NULL,"
                "  'waiting for ' || e.subscriber || ' to acknowledge, until '"
                "  || to_char(to_timestamp(e.due_at / 1000000) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                " FROM escalations e WHERE e.alert_id = ?1"
                " UNION ALL SELECT e.decided_at, 4, e.id, 'dawnd (escalation)',"
                "  CASE e.state WHEN 'escalated' THEN 'escalate' ELSE 'escalation-' || e.state END, NULL,"
                "  CASE e.state WHEN 'escalated' THEN 'not acknowledged by ' || e.subscriber || '; told '"
                "   || CASE WHEN e.detail LIKE '[%]'"
                "    THEN (SELECT string_agg(j, ', ') FROM jsonb_array_elements_text(e.detail::jsonb) j)"
                "    ELSE coalesce(e.detail, '?') END"
                "   WHEN 'acknowledged' THEN e.subscriber || ' acknowledged (by ' || coalesce(e.detail, '?') || ')'"
                "   ELSE e.subscriber || ': ' || coalesce(e.detail, e.state) END"
                " FROM escalations e WHERE e.alert_id = ?1 AND e.state <> 'waiting' AND e.decided_at IS NOT NULL"
                ") h ORDER BY at, rank, ord LIMIT ?2",
        [ST_AUDIT_LIST] = "SELECT at, actor, action, alert_id, detail FROM audit"
                          " WHERE at >= ?1 AND (?2::text IS NULL OR actor = ?2) ORDER BY at DESC, id DESC LIMIT ?3",
        [ST_PRUNE_COUNT] = "SELECT alert_id, channel, count(*) FROM outbox WHERE alert_id IN " PG_IDS
                           " GROUP BY alert_id, channel ORDER BY alert_id, channel",
        [ST_PRUNE_TOTALS] = "INSERT INTO delivery_totals (alert_id, channel, purpose, state, deliveries)"
                            " SELECT alert_id, channel, purpose, state, count(*) FROM outbox"
                            " WHERE alert_id IN " PG_IDS " GROUP BY alert_id, channel, purpose, state"
                            " ON CONFLICT (alert_id, channel, purpose, state)"
                            " DO UPDATE SET deliveries = delivery_totals.deliveries + excluded.deliveries",
        [ST_PRUNE_TIMES] = "INSERT INTO delivery_times (alert_id, channel, usec)"
                           " SELECT alert_id, channel, GREATEST(updated_at - created_at, 0) FROM outbox"
                           " WHERE alert_id IN " PG_IDS " AND state IN ('delivered', 'sent') AND purpose <> 'public'",
        [ST_PRUNE_OUTBOX] = "DELETE FROM outbox WHERE alert_id IN " PG_IDS " RETURNING channel, state",
        /* SQLite's UPDATE OR IGNORE: the earliest of the rows that would become one */
        [ST_PRUNE_ACKS_MASK] = "UPDATE acks SET by = '(removed)' WHERE id IN (SELECT min(k.id) FROM acks k"
                               " WHERE k.alert_id IN " PG_IDS " AND k.by <> '(removed)' AND NOT EXISTS"
                               " (SELECT 1 FROM acks x WHERE x.alert_id = k.alert_id AND x.subscriber = k.subscriber"
                               " AND x.via = k.via AND x.revision = k.revision AND x.by = '(removed)')"
                               " GROUP BY k.alert_id, k.subscriber, k.via, k.revision)",
        [ST_PRUNE_ACKS_DROP] = "DELETE FROM acks WHERE alert_id IN " PG_IDS " AND by <> '(removed)'",
        [ST_PRUNE_ESCALATIONS] = "UPDATE escalations SET detail = '(removed)'"
                                 " WHERE alert_id IN " PG_IDS " AND state = 'acknowledged'",
        [ST_PRUNE_MARK] = "UPDATE alerts SET pruned_at = ?2 WHERE id IN " PG_IDS,
        [ST_PRUNE_AUDIT] = "UPDATE audit SET actor = 'sms' || CASE WHEN strpos(actor, ' (') > 0"
                           " THEN substr(actor, strpos(actor, ' (')) ELSE '' END,"
                           " detail = CASE WHEN action = 'sms-reply'"
                           " THEN 'text reply (its words were removed after the retention period)' ELSE detail END"
                           " WHERE id IN (SELECT id FROM audit WHERE at < ?1 AND actor LIKE 'sms:%'"
                           " ORDER BY id LIMIT ?2)",
        [ST_PRUNE_JOINS] = "DELETE FROM public_joins WHERE ctid IN (SELECT ctid FROM public_joins"
                           " WHERE day < ?1 LIMIT ?2)",
        [ST_ESC_ADD_DELIVERY] = "INSERT INTO outbox (alert_id, revision, subscriber, channel, recipient, action,"
                                " created_at, updated_at, purpose, about) VALUES (?1, ?2, ?3, ?4, ?5, 'publish', ?6, ?6,"
                                " ?7, ?8) ON CONFLICT DO NOTHING RETURNING id",
        [ST_ESC_UNACKED] = "SELECT a.id, a.grade, o.subscriber, e.state, e.due_at, e.decided_at, e.detail"
                           " FROM alerts a JOIN outbox o ON o.alert_id = a.id"
                           " LEFT JOIN escalations e ON e.alert_id = a.id AND e.subscriber = o.subscriber"
                           " WHERE a.status = 'active' AND o.purpose = 'alert' AND o.action = 'publish'"
                           " AND o.subscriber <> '' AND NOT EXISTS (SELECT 1 FROM acks k"
                           " WHERE k.alert_id = a.id AND k.subscriber = o.subscriber)"
                           " GROUP BY a.id, o.subscriber, e.alert_id, e.subscriber"
                           " ORDER BY a.seq DESC, o.subscriber LIMIT ?1",
        [ST_SUMMARY_ALERTS] = PG_SUMMARY_WINDOW SUMMARY_ALERTS_OF_W,
        [ST_SUMMARY_DELIVERIES] = PG_SUMMARY_WINDOW SUMMARY_DELIVERIES_OF_W,
        [ST_SUMMARY_DELIVERY_TIMES] = PG_SUMMARY_WINDOW SUMMARY_DELIVERY_TIMES_OF_W,
        [ST_SUMMARY_ACKS] = PG_SUMMARY_WINDOW SUMMARY_ACKS_OF_W,
        [ST_SUMMARY_ESCALATIONS] = PG_SUMMARY_WINDOW SUMMARY_ESCALATIONS_OF_W,
        [ST_REPLY_ADD] = "INSERT INTO sms_replies (number, body, kind, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)"
                         " RETURNING id",
        /* SMS replies are claimed as the outbox's rows are: one node sends a reply, its
         * result is recorded only by the node that holds the claim (?7), and the claim
         * runs out after a lease (?8) unless the node's heartbeat extends it */
        [ST_REPLY_MOVE] = "UPDATE sms_replies SET state = ?3, last_error = ?4, next_at = ?5, updated_at = ?6,"
                          " attempts = attempts + CASE WHEN ?3 = 'in-flight' THEN 1 ELSE 0 END,"
                          " claimed_by = CASE WHEN ?3 = 'in-flight' THEN ?7 END,"
                          " claimed_until = CASE WHEN ?3 = 'in-flight' THEN " PG_NOW_USEC " + ?8 END"
                          " WHERE id = ?1 AND state = ?2 AND (?2 <> 'in-flight' OR claimed_by = ?7)",
        [ST_REPLY_DUE] = "SELECT r.id, r.number, r.body, r.kind, r.state, r.attempts, r.created_at,"
                         " r.kind <> 'stop' AND EXISTS (SELECT 1 FROM sms_optouts o WHERE o.number = r.number)"
                         " FROM sms_replies r WHERE r.state IN ('pending', 'retrying') AND r.next_at <= ?1"
                         " AND r.id < ?3 ORDER BY r.next_at, r.id LIMIT ?2 FOR UPDATE OF r SKIP LOCKED",
        /* a provider's receipt reaches whichever node its callback does: not the claimant's
         * alone (it ends the claim) */
        [ST_REPLY_RECEIPT_MOVE] = "UPDATE sms_replies SET state = ?3, last_error = ?4, next_at = ?5, updated_at = ?6,"
                                  " claimed_by = NULL, claimed_until = NULL WHERE id = ?1 AND state = ?2",
        /* a node's start takes back its own, and those whose lease ran out */
        [ST_REPLY_REQUEUE] = "UPDATE sms_replies SET state = 'pending', updated_at = ?1, claimed_by = NULL,"
                             " claimed_until = NULL WHERE state = 'in-flight' AND (claimed_by = ?2"
                             " OR claimed_by IS NULL OR claimed_until < " PG_NOW_USEC ")",
        /* A channel's rate, shared by every node: up to ?4 tokens from its bucket (capacity
         * ?2, refilled at ?3 a microsecond of the database's clock). A bucket another node
         * is taking from now (its row locked until that node's batch commits) is skipped,
         * not waited for: no row, and this node looks again shortly. */
        [ST_TAKE_TOKENS] = "WITH b AS (SELECT channel, LEAST(CAST(?2 AS FLOAT8), tokens + (" PG_NOW_USEC
                           " - refilled_at) * CAST(?3 AS FLOAT8)) AS have FROM rate_buckets WHERE channel = ?1"
                           " FOR UPDATE SKIP LOCKED)"
                           " UPDATE rate_buckets r SET tokens = b.have - LEAST(CAST(?4 AS BIGINT), floor(b.have)),"
                           " refilled_at = " PG_NOW_USEC " FROM b WHERE r.channel = b.channel"
                           " RETURNING CAST(LEAST(CAST(?4 AS BIGINT), floor(b.have)) AS BIGINT)",
        /* a bucket starts full (?2), as a node's own is a second after its start; one that
         * is there is not inserted again (ON CONFLICT alone would wait for the node taking
         * from it) */
        [ST_ADD_BUCKET] = "INSERT INTO rate_buckets (channel, tokens, refilled_at) SELECT ?1, CAST(?2 AS FLOAT8), "
                          PG_NOW_USEC " WHERE NOT EXISTS (SELECT 1 FROM rate_buckets WHERE channel = ?1)"
                          " ON CONFLICT (channel) DO NOTHING",
        [ST_REPLY_LEASE_EXTEND] = "UPDATE sms_replies SET claimed_until = " PG_NOW_USEC " + ?2"
                                  " WHERE state = 'in-flight' AND claimed_by = ?1 AND id = ANY (CAST(?3 AS BIGINT[]))",
        [ST_REPLY_RECLAIM] = "UPDATE sms_replies SET state = 'retrying', next_at = 0, updated_at = ?1,"
                             " claimed_by = NULL, claimed_until = NULL,"
                             " last_error = 'its node stopped answering: sent again' WHERE state = 'in-flight'"
                             " AND claimed_until < " PG_NOW_USEC,
};

struct dawn_store {
        struct db *db;
        char node[64]; /* this dawnd's node id (claims, heartbeat) */
        int64_t lease_usec;
        struct db_stmt *stmt[ST_COUNT];
        bool in_tx;
        bool ended_loaded;      /* the ended counts below are the store's: a close may save them */
        /* outbox_ended_saved may still hold counts this open did not use (it could not
         * remove them): they go with the first write that commits (saved_clear) */
        bool saved_left;
        int fail_next_commit;   /* tests: the -errno the next COMMIT fails with, or 0 */
        /* Deliveries that ended (delivered, sent, failed, superseded, opted-out) per
         * channel and state: the outbox's history, which grows with every alert until
         * retention prunes it. Status and /metrics show these without reading it: counted
         * once at open, then kept here by every statement that moves a delivery into or
         * out of an ended state. A change counts in committed only once its transaction
         * committed: until then in tx (or in savepoint, inside SAVEPOINT request), and a
         * rollback (ours, or SQLite's own after an error: the rollback hook) drops it.
         * Memory, not a table or trigger: nothing more to write per delivery. */
        struct ended_counts {
                int64_t committed[DAWN_CHANNEL_COUNT][DAWN_DELIVERY_STATE_COUNT];
                int64_t tx[DAWN_CHANNEL_COUNT][DAWN_DELIVERY_STATE_COUNT];
                int64_t savepoint[DAWN_CHANNEL_COUNT][DAWN_DELIVERY_STATE_COUNT];
                int64_t unknown[DAWN_CHANNEL_COUNT][DAWN_DELIVERY_STATE_COUNT]; /* a COMMIT's, its outcome not known */
                bool in_savepoint;
        } ended;
        /* Alerts per status and grade, for /metrics' dawn_alerts, where each scrape
         * read every alert ever made: counted once at open, then kept by the one
         * statement that inserts alerts and the one that updates them, under the same
         * transaction and savepoint rules as ended (its in_savepoint included). */
        struct alert_counts {
                int64_t committed[DAWN_STATUS_COUNT][DAWN_GRADE_COUNT];
                int64_t tx[DAWN_STATUS_COUNT][DAWN_GRADE_COUNT];
                int64_t savepoint[DAWN_STATUS_COUNT][DAWN_GRADE_COUNT];
                int64_t unknown[DAWN_STATUS_COUNT][DAWN_GRADE_COUNT];
        } alerts;
        /* The first outbox and sms_replies ids the open transaction inserted
         * (0: none). The outbox may dispatch inside a batch that another way in
         * opened, and this connection reads that batch's uncommitted rows: the
         * due queries return none at or above these, so nothing is sent that
         * the batch's COMMIT could still fail to keep (a full disk). A new row
         * is max(id) + 1, so while the row that set a floor exists every later
         * insert is above it. */
        struct {
                int64_t outbox, reply;
        } tx_first;
};

/* The exclusive upper bound of the ids a due query may return. */
static int64_t below(int64_t first)
{
        return first > 0 ? first : INT64_MAX;
}

/* An INSERT (OR IGNORE) just ran with result r: if it added a row inside a
 * transaction, the row's id may lower the transaction's floor. */
static void note_insert(struct dawn_store *s, int64_t *first, int r)
{
        if (r < 0 || (int)db_changes(s->db) == 0 || !db_in_transaction(s->db))
                return;
        int64_t id = db_last_insert_id(s->db);
        if (*first == 0 || id < *first)
                *first = id;
}

static bool live_state(int state)
{
        return state == DAWN_DELIVERY_PENDING || state == DAWN_DELIVERY_RETRYING || state == DAWN_DELIVERY_INFLIGHT;
}

/* n deliveries on channel entered (n > 0) or left (n < 0) state, in the statement
 * that just ran. Live states and names this dawnd does not know are not counted. */
static int saved_clear(struct dawn_store *s);

static void ended_note(struct dawn_store *s, int channel, int state, int64_t n)
{
        if (channel < 0 || channel >= DAWN_CHANNEL_COUNT || state < 0 || state >= DAWN_DELIVERY_STATE_COUNT ||
            live_state(state))
                return;
        if (!db_in_transaction(s->db)) { /* no transaction: the statement committed */
                s->ended.committed[channel][state] += n;
                if (s->ended_loaded)
                        saved_clear(s);
        }
        else if (s->ended.in_savepoint)
                s->ended.savepoint[channel][state] += n;
        else
                s->ended.tx[channel][state] += n;
}

/* n alerts entered (n > 0) or left (n < 0) status with grade, in the statement that just ran */
static void alerts_note(struct dawn_store *s, int status, int grade, int64_t n)
{
        if (status < 0 || status >= DAWN_STATUS_COUNT || grade < 0 || grade >= DAWN_GRADE_COUNT)
                return;
        if (!db_in_transaction(s->db))
                s->alerts.committed[status][grade] += n;
        else if (s->ended.in_savepoint)
                s->alerts.savepoint[status][grade] += n;
        else
                s->alerts.tx[status][grade] += n;
}

/* Adds a kept count's changes (a savepoint's, a transaction's) into the level above
 * and empties them: the counts are arrays of int64_t, whatever their shape. */
#define FOLD(into, from) fold_counts(&(into)[0][0], &(from)[0][0], sizeof(into) / sizeof((into)[0][0]))
static void fold_counts(int64_t *into, int64_t *from, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                into[i] += from[i];
                from[i] = 0;
        }
}

/* the transaction ended: committed (its changes count) or not */
static void ended_settle(struct dawn_store *s, bool committed)
{
        FOLD(s->ended.tx, s->ended.savepoint);
        FOLD(s->alerts.tx, s->alerts.savepoint);
        s->ended.in_savepoint = false;
        if (committed) {
                FOLD(s->ended.committed, s->ended.tx);
                FOLD(s->alerts.committed, s->alerts.tx);
        } else {
                memset(s->ended.tx, 0, sizeof(s->ended.tx));
                memset(s->alerts.tx, 0, sizeof(s->alerts.tx));
        }
}

/* SQLite rolled the transaction back: by ROLLBACK, or by itself after an error */
static void rolled_back(void *userdata)
{
        struct dawn_store *s = userdata;
        ended_settle(s, false);
        /* SQLite's own rollback too (a full disk mid-batch): the rows the floors named are gone */
        memset(&s->tx_first, 0, sizeof(s->tx_first));
}

const char *dawn_store_errmsg(struct dawn_store *s)
{
        return s && s->db ? db_errmsg(s->db) : "no database";
}

/* The cached statement, reset and with its bindings cleared. */
static struct db_stmt *stmt(struct dawn_store *s, enum stmt_id id)
{
        struct db_stmt *st = s->stmt[id];
        if (!st) {
                const char *sql = stmt_sql[id];
                if (s->db->ops->dialect == DB_DIALECT_POSTGRESQL && stmt_sql_pg[id])
                        sql = stmt_sql_pg[id];
                if (!sql || !(st = db_prepare(s->db, sql)))
                        return NULL;
                s->stmt[id] = st;
        }
        db_reset(st);
        return st;
}

static int exec(struct dawn_store *s, const char *sql)
{
        return db_exec(s->db, sql);
}

/* Steps a statement that returns no rows. */
static int run(struct dawn_store *s, struct db_stmt *st)
{
        if (!st)
                return db_last_error(s->db);
        int rc = db_step(st);
        int r = rc == DB_DONE ? 0 : db_errno(rc);
        db_reset(st);
        return r;
}

static void bind_text(struct db_stmt *st, int i, const char *v)
{
        db_bind_text(st, i, v);
}

static char *column_strdup(struct db_stmt *st, int i)
{
        const char *t = db_column_text(st, i);
        return strdup(t ? t : "");
}

static void column_copy(struct db_stmt *st, int i, char *buf, size_t n)
{
        const char *t = db_column_text(st, i);
        snprintf(buf, n, "%s", t ? (const char *)t : "");
}

/* The one pass over history: at open, before anything else writes. */
/* The counts a clean close saved (ended_save), taken and removed in one
 * transaction: after that, only another clean close saves them again, so a
 * crash can never leave counts behind that the outbox has moved past. 1 if
 * they were there and are now in s->ended, 0 if not (or if they could not be
 * removed: then they are not used), or -errno. */
static int ended_take_saved(struct dawn_store *s)
{
        s->saved_left = true;
        if (db_begin(s->db) < 0)
                return 0;
        struct db_stmt *st = stmt(s, ST_SAVED_ENDED);
        bool saved = false, any = false;
        int rc = st ? DB_DONE : -EIO;
        while (st && (rc = db_step(st)) == DB_ROW) {
                any = true;
                const char *channel = (const char *)db_column_text(st, 0);
                if (strcmp(channel, SAVED_MARK) == 0) {
                        saved = true;
                        continue;
                }
                int c = dawn_channel_from_name(channel);
                int state = dawn_delivery_state_from_name((const char *)db_column_text(st, 1));
                if (c >= 0 && c < DAWN_CHANNEL_COUNT && state >= 0 && state < DAWN_DELIVERY_STATE_COUNT &&
                    !live_state(state))
                        s->ended.committed[c][state] = db_column_int64(st, 2);
        }
        if (st)
                db_reset(st);
        if (rc == DB_DONE && !any)
                s->saved_left = false;
        if (rc == DB_DONE && saved && run(s, stmt(s, ST_SAVED_ENDED_CLEAR)) >= 0 && exec(s, "COMMIT") == 0) {
                s->saved_left = false;
                return 1;
        }
        if (!!db_in_transaction(s->db))
                exec(s, "ROLLBACK");
        memset(&s->ended, 0, sizeof(s->ended));
        return 0;
}

/* Counts that ended_take_saved() could not remove (the write lock held past the
 * busy timeout, a full disk) must go before anything this open changes is in the
 * store, or the open after a crash would read them, stale: in the transaction
 * that dawn_store_begin() opened, so that they go with its first commit, or
 * right after a change made outside one. 0 or -errno. */
static int saved_clear(struct dawn_store *s)
{
        if (!s->saved_left)
                return 0;
        int r = run(s, stmt(s, ST_SAVED_ENDED_CLEAR));
        if (r == 0 && !db_in_transaction(s->db))
                s->saved_left = false; /* else when the transaction commits */
        return r;
}

static int ended_load(struct dawn_store *s)
{
        memset(&s->ended, 0, sizeof(s->ended));
        if (dawn_store_shared(s)) {
                /* several nodes: no node's memory sees the others' changes, so each adds its
                 * own to the store (counts_flush) and a count is their sum. Counted afresh
                 * at each start, as SQLite is when it was not closed cleanly: the tables
                 * locked meanwhile, so that another node's batch adds its changes either
                 * before (and is counted) or after (and is added) */
                s->db->ops->on_rollback(s->db, rolled_back, s);
                int r = db_begin(s->db);
                if (r == 0)
                        r = exec(s, "LOCK TABLE delivery_counts, alert_counts IN SHARE ROW EXCLUSIVE MODE;"
                                    "DELETE FROM delivery_counts;"
                                    "INSERT INTO delivery_counts SELECT '', channel, state, count(*) FROM outbox"
                                    " WHERE state NOT IN ('pending', 'retrying', 'in-flight') GROUP BY channel, state;"
                                    "DELETE FROM alert_counts;"
                                    "INSERT INTO alert_counts SELECT '', status, grade, count(*) FROM alerts"
                                    " GROUP BY status, grade");
                if (r == 0)
                        r = exec(s, "COMMIT");
                else if (db_in_transaction(s->db))
                        exec(s, "ROLLBACK");
                return r;
        }
        int r = ended_take_saved(s);
        if (r == 0) {
                /* first open of this store, or dawnd stopped without closing it: one pass */
                struct db_stmt *st = stmt(s, ST_ENDED_COUNTS);
                if (!st)
                        return -EIO;
                int rc;
                while ((rc = db_step(st)) == DB_ROW)
                        ended_note(s, dawn_channel_from_name((const char *)db_column_text(st, 0)),
                                   dawn_delivery_state_from_name((const char *)db_column_text(st, 1)), 1);
                db_reset(st);
                r = rc == DB_DONE ? 0 : db_errno(rc);
        }
        if (r < 0)
                return r;
        s->db->ops->on_rollback(s->db, rolled_back, s);
        s->ended_loaded = true;
        return 0;
}

/* The alerts per status and grade: the one pass over them, at open. */
static int alerts_load(struct dawn_store *s)
{
        memset(&s->alerts, 0, sizeof(s->alerts));
        if (dawn_store_shared(s))
                return 0; /* read when asked for (dawn_store_alert_counts), as the ended counts are */
        struct db_stmt *st = stmt(s, ST_ALERT_COUNTS);
        if (!st)
                return -EIO;
        int rc;
        while ((rc = db_step(st)) == DB_ROW)
                alerts_note(s, dawn_status_from_name((const char *)db_column_text(st, 0)),
                            dawn_grade_from_name((const char *)db_column_text(st, 1)), db_column_int64(st, 2));
        db_reset(st);
        return rc == DB_DONE ? 0 : db_errno(rc);
}

/* One row of outbox_ended_saved. */
static int saved_add(struct dawn_store *s, const char *channel, const char *state, int64_t n)
{
        struct db_stmt *st = stmt(s, ST_SAVED_ENDED_ADD);
        if (!st)
                return -EIO;
        bind_text(st, 1, channel);
        bind_text(st, 2, state);
        db_bind_int64(st, 3, n);
        return run(s, st);
}

/* At a clean close: the ended counts, for the next open to read instead of
 * counting the whole outbox again. Best effort: if this fails (a full disk),
 * the next open counts. */
static void ended_save(struct dawn_store *s)
{
        if (!s->ended_loaded || !!db_in_transaction(s->db) || db_begin(s->db) < 0)
                return;
        int r = run(s, stmt(s, ST_SAVED_ENDED_CLEAR));
        for (int c = 0; r >= 0 && c < DAWN_CHANNEL_COUNT; c++)
                for (int state = 0; r >= 0 && state < DAWN_DELIVERY_STATE_COUNT; state++)
                        if (s->ended.committed[c][state])
                                r = saved_add(s, dawn_channel_name(c), dawn_delivery_state_name(state),
                                              s->ended.committed[c][state]);
        /* the mark says "complete": counts of zero have no row of their own */
        if (r >= 0)
                r = saved_add(s, SAVED_MARK, SAVED_MARK, 0);
        if (r < 0 || exec(s, "COMMIT") < 0)
                exec(s, "ROLLBACK");
}

/* Steps an outbox change that returns each changed row's channel: each counts as
 * leaving from and entering to (-1: the caller's statement says per row, or none).
 * Returns the rows changed, or -errno. */
static int run_moved(struct dawn_store *s, struct db_stmt *st, int from, int to)
{
        if (!st)
                return db_last_error(s->db);
        int64_t moved[DAWN_CHANNEL_COUNT] = { 0 };
        int n = 0, rc;
        while ((rc = db_step(st)) == DB_ROW) {
                int c = dawn_channel_from_name((const char *)db_column_text(st, 0));
                if (c >= 0 && c < DAWN_CHANNEL_COUNT)
                        moved[c]++;
                n++;
        }
        db_reset(st);
        if (rc != DB_DONE)
                return db_errno(rc);
        for (int c = 0; c < DAWN_CHANNEL_COUNT; c++)
                if (moved[c]) {
                        ended_note(s, c, from, -moved[c]);
                        ended_note(s, c, to, moved[c]);
                }
        return n;
}

int dawn_store_open(const char *path, struct dawn_store **out)
{
        struct dawn_store_options o = { .backend = DAWN_STORE_SQLITE, .path = path };
        return dawn_store_open_with(&o, out);
}

int dawn_store_open_with(const struct dawn_store_options *o, struct dawn_store **out)
{
        struct dawn_store *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        snprintf(s->node, sizeof(s->node), "%s", o->node && *o->node ? o->node : "dawnd");
        s->lease_usec = o->lease_usec > 0 ? o->lease_usec : DAWN_STORE_LEASE_USEC;
        int r = o->backend == DAWN_STORE_POSTGRESQL ? db_pg_open(o, &s->db) : db_sqlite_open(o->path, &s->db);
        if (r == 0)
                r = s->db->ops->migrate(s->db);
        if (r == 0)
                r = ended_load(s);
        if (r == 0)
                r = alerts_load(s);
        if (r < 0) {
                /* keep the message: the caller logs dawn_store_errmsg() of nothing otherwise */
                if (s->db)
                        fprintf(stderr, "dawnd: store %s: %s\n",
                                o->backend == DAWN_STORE_POSTGRESQL ? "postgresql" : o->path,
                                db_last_error(s->db) < 0 ? db_errmsg(s->db) : strerror(-r));
                dawn_store_close(s);
                return r;
        }
        *out = s;
        return 0;
}

struct dawn_store *dawn_store_close(struct dawn_store *s)
{
        if (!s)
                return NULL;
        if (s->db) {
                if (s->in_tx)
                        exec(s, "ROLLBACK");
                s->in_tx = false;
                ended_save(s);
                for (int i = 0; i < ST_COUNT; i++)
                        db_finalize(s->stmt[i]);
                s->db->ops->close(s->db);
        }
        free(s);
        return NULL;
}

/* ---- transactions ---- */

int dawn_store_begin(struct dawn_store *s)
{
        int r = db_begin(s->db);
        if (r == 0 && (r = saved_clear(s)) < 0)
                exec(s, "ROLLBACK");
        if (r == 0)
                s->in_tx = true;
        memset(&s->tx_first, 0, sizeof(s->tx_first));
        return r;
}

/* One "{a,b}" array literal of names (which have no quotes or commas) */
static void names_array(char *buf, size_t size, const char *const *names, size_t n)
{
        size_t used = (size_t)snprintf(buf, size, "{");
        for (size_t i = 0; i < n && used < size; i++)
                used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? "," : "", names[i]);
        if (used < size)
                snprintf(buf + used, size - used, "}");
}

static void numbers_array(char *buf, size_t size, const int64_t *v, size_t n)
{
        size_t used = (size_t)snprintf(buf, size, "{");
        for (size_t i = 0; i < n && used < size; i++)
                used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? "," : "", (long long)v[i]);
        if (used < size)
                snprintf(buf + used, size - used, "}");
}

/* Several nodes: the open batch's changes to the counts, added to this node's
 * rows inside the batch, so they count exactly when it commits. */
static int counts_flush(struct dawn_store *s)
{
        FOLD(s->ended.tx, s->ended.savepoint);
        FOLD(s->alerts.tx, s->alerts.savepoint);
        s->ended.in_savepoint = false;
        enum { MAX = DAWN_CHANNEL_COUNT * DAWN_DELIVERY_STATE_COUNT + DAWN_STATUS_COUNT * DAWN_GRADE_COUNT };
        const char *a[MAX], *b[MAX];
        int64_t n[MAX];
        char as[2048], bs[2048], ns[2048];
        int r = 0;
        for (int pass = 0; pass < 2 && r == 0; pass++) {
                size_t k = 0;
                if (pass == 0) {
                        for (int c = 0; c < DAWN_CHANNEL_COUNT; c++)
                                for (int st = 0; st < DAWN_DELIVERY_STATE_COUNT; st++)
                                        if (s->ended.tx[c][st]) {
                                                a[k] = dawn_channel_name((enum dawn_channel_kind)c);
                                                b[k] = dawn_delivery_state_name((enum dawn_delivery_state)st);
                                                n[k++] = s->ended.tx[c][st];
                                        }
                } else {
                        for (int st = 0; st < DAWN_STATUS_COUNT; st++)
                                for (int g = 0; g < DAWN_GRADE_COUNT; g++)
                                        if (s->alerts.tx[st][g]) {
                                                a[k] = dawn_status_name((enum dawn_status)st);
                                                b[k] = dawn_grade_name((enum dawn_grade)g);
                                                n[k++] = s->alerts.tx[st][g];
                                        }
                }
                if (k == 0)
                        continue;
                struct db_stmt *st = stmt(s, pass == 0 ? ST_ADD_DELIVERY_COUNTS : ST_ADD_ALERT_COUNTS);
                if (!st)
                        return -EIO;
                names_array(as, sizeof(as), a, k);
                names_array(bs, sizeof(bs), b, k);
                numbers_array(ns, sizeof(ns), n, k);
                bind_text(st, 1, s->node);
                bind_text(st, 2, as);
                bind_text(st, 3, bs);
                bind_text(st, 4, ns);
                r = run(s, st);
        }
        return r;
}

int dawn_store_commit(struct dawn_store *s)
{
        int r;
        if (s->fail_next_commit) {
                r = s->fail_next_commit;
                s->fail_next_commit = 0;
                exec(s, "ROLLBACK");
                s->in_tx = false;
                ended_settle(s, false);
                return r;
        }
        r = dawn_store_shared(s) ? counts_flush(s) : 0;
        r = r < 0 ? r : exec(s, "COMMIT");
        if (r == -EINPROGRESS) {
                /* the answer was lost with the connection: its counts wait for the outcome */
                FOLD(s->ended.tx, s->ended.savepoint);
                FOLD(s->alerts.tx, s->alerts.savepoint);
                s->ended.in_savepoint = false;
                FOLD(s->ended.unknown, s->ended.tx);
                FOLD(s->alerts.unknown, s->alerts.tx);
                memset(&s->tx_first, 0, sizeof(s->tx_first));
                s->in_tx = false;
                return r;
        }
        ended_settle(s, r == 0);
        if (r == 0)
                s->saved_left = false; /* saved_clear() ran in it */
        memset(&s->tx_first, 0, sizeof(s->tx_first));
        /* A failed COMMIT may leave the transaction open (SQLITE_BUSY), or SQLite
         * may have rolled it back already (SQLITE_FULL, IOERR): ROLLBACK only in
         * the first case, so that the COMMIT's own message stays for the log
         * instead of "cannot rollback - no transaction is active". */
        if (r < 0 && !!db_in_transaction(s->db))
                exec(s, "ROLLBACK");
        s->in_tx = false;
        return r;
}

bool dawn_store_in_transaction(struct dawn_store *s)
{
        /* After SQLITE_FULL, IOERR, BUSY or NOMEM in a statement SQLite may
         * roll the whole transaction back by itself: ask it, not our flag. */
        if (s->in_tx && !db_in_transaction(s->db))
                s->in_tx = false;
        return s->in_tx;
}

int dawn_store_savepoint(struct dawn_store *s)
{
        int r = run(s, stmt(s, ST_SAVEPOINT));
        if (r == 0)
                s->ended.in_savepoint = true;
        return r;
}

/* the savepoint ended: its changes stay in the transaction (kept) or go */
static void ended_savepoint_end(struct dawn_store *s, bool kept)
{
        if (kept) {
                FOLD(s->ended.tx, s->ended.savepoint);
                FOLD(s->alerts.tx, s->alerts.savepoint);
        } else {
                memset(s->ended.savepoint, 0, sizeof(s->ended.savepoint));
                memset(s->alerts.savepoint, 0, sizeof(s->alerts.savepoint));
        }
        s->ended.in_savepoint = false;
        /* a RELEASE outside BEGIN commits */
        if (!db_in_transaction(s->db))
                ended_settle(s, kept);
}

int dawn_store_release(struct dawn_store *s)
{
        int r = run(s, stmt(s, ST_RELEASE));
        if (r == 0)
                ended_savepoint_end(s, true);
        return r;
}

void dawn_store_rollback_to_savepoint(struct dawn_store *s)
{
        /* ROLLBACK TO keeps the savepoint open; RELEASE closes it */
        run(s, stmt(s, ST_ROLLBACK_TO));
        run(s, stmt(s, ST_RELEASE));
        ended_savepoint_end(s, false);
}

int dawn_store_check_writable(struct dawn_store *s)
{
        if (s->in_tx)
                return 0;
        /* taking the write lock fails on a read-only or vanished database */
        int r = db_begin(s->db);
        if (r == 0)
                return exec(s, "COMMIT");
        return r;
}

/* ---- alerts ---- */

int dawn_store_next_alert_id(struct dawn_store *s, char id[DAWN_MAX_ID_CHARS + 1])
{
        struct db_stmt *st = stmt(s, ST_NEXT_SEQ);
        if (!st || db_step(st) != DB_ROW)
                return db_last_error(s->db);
        snprintf(id, DAWN_MAX_ID_CHARS + 1, "A%lld", (long long)db_column_int64(st, 0));
        db_reset(st);
        return 0;
}

int dawn_store_save_alert(struct dawn_store *s, const struct dawn_alert *a, const char *fingerprint,
                          bool new_revision)
{
        cJSON *o = dawn_alert_to_json(a);
        char *json = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        if (!json)
                return -ENOMEM;

        bool insert = a->revision == 1 && new_revision;
        /* what the alert was, for the counts: the update cannot say (RETURNING gives the new row) */
        int was_status = -1, was_grade = -1;
        struct db_stmt *st = insert ? NULL : stmt(s, ST_ALERT_STATE);
        if (st) {
                bind_text(st, 1, a->id);
                if (db_step(st) == DB_ROW) {
                        was_status = dawn_status_from_name((const char *)db_column_text(st, 0));
                        was_grade = dawn_grade_from_name((const char *)db_column_text(st, 1));
                }
                db_reset(st);
        }
        st = stmt(s, insert ? ST_INSERT_ALERT : ST_UPDATE_ALERT);
        int r = -EIO;
        if (st) {
                bind_text(st, 1, a->id);
                db_bind_int64(st, 2, atoll(a->id + 1));
                bind_text(st, 3, fingerprint);
                bind_text(st, 4, dawn_status_name(a->status));
                bind_text(st, 5, dawn_grade_name(a->grade));
                db_bind_int64(st, 6, a->revision);
                db_bind_int64(st, 7, a->issued_at);
                db_bind_int64(st, 8, a->updated_at);
                db_bind_int64(st, 9, a->expires_at);
                bind_text(st, 10, json);
                bind_text(st, 11, dawn_type_name(a->type));
                bind_text(st, 12, a->area ? a->area : "");
                r = run(s, st);
                if (r == 0 && (int)db_changes(s->db) == 1) {
                        if (!insert)
                                alerts_note(s, was_status, was_grade, -1);
                        alerts_note(s, (int)a->status, (int)a->grade, 1);
                }
        }
        if (r == 0 && new_revision && (st = stmt(s, ST_INSERT_REVISION))) {
                bind_text(st, 1, a->id);
                db_bind_int64(st, 2, a->revision);
                db_bind_int64(st, 3, a->updated_at);
                bind_text(st, 4, json);
                r = run(s, st);
        }
        free(json);
        return r;
}

static int alert_from_text(const char *text, struct dawn_alert *a)
{
        cJSON *o = text ? cJSON_Parse((const char *)text) : NULL;
        int r = o ? dawn_alert_from_json(o, a) : -EIO;
        cJSON_Delete(o);
        return r;
}

int dawn_store_load_alert(struct dawn_store *s, const char *id, struct dawn_alert *a)
{
        struct db_stmt *st = stmt(s, ST_LOAD_ALERT);
        if (!st)
                return -EIO;
        bind_text(st, 1, id);
        int rc = db_step(st);
        int r = rc == DB_ROW ? alert_from_text(db_column_text(st, 0), a) : db_errno(rc);
        if (r == 0 && rc == DB_ROW)
                r = 1;
        db_reset(st);
        return r;
}

int dawn_store_find_match(struct dawn_store *s, const char *fingerprint, int64_t since_usec,
                          char id[DAWN_MAX_ID_CHARS + 1])
{
        struct db_stmt *st = stmt(s, ST_FIND_MATCH);
        if (!st)
                return -EIO;
        bind_text(st, 1, fingerprint);
        db_bind_int64(st, 2, since_usec);
        int rc = db_step(st);
        int r = rc == DB_ROW ? 1 : db_errno(rc);
        if (r == 1)
                column_copy(st, 0, id, DAWN_MAX_ID_CHARS + 1);
        db_reset(st);
        return r;
}

/* Appends the JSON text in column 0 of each row, parsed, to array. */
static int json_rows(struct dawn_store *s, struct db_stmt *st, cJSON *array)
{
        int rc;
        while ((rc = db_step(st)) == DB_ROW) {
                const char *t = db_column_text(st, 0);
                cJSON *o = t ? cJSON_Parse((const char *)t) : NULL;
                if (o)
                        cJSON_AddItemToArray(array, o);
        }
        db_reset(st);
        return rc == DB_DONE ? 0 : db_errno(rc);
}

int dawn_store_list_alerts(struct dawn_store *s, bool all, cJSON *array)
{
        struct db_stmt *st = stmt(s, all ? ST_LIST_ALL : ST_LIST_ACTIVE);
        return st ? json_rows(s, st, array) : -EIO;
}

int dawn_store_count_open_alerts(struct dawn_store *s)
{
        struct db_stmt *st = stmt(s, ST_COUNT_OPEN);
        if (!st)
                return -EIO;
        int rc = db_step(st);
        int r = rc == DB_ROW ? db_column_int(st, 0) : db_errno(rc);
        db_reset(st);
        return r;
}

int64_t dawn_store_count_waiting(struct dawn_store *s)
{
        struct db_stmt *st = stmt(s, ST_COUNT_WAITING);
        if (!st)
                return -EIO;
        int rc = db_step(st);
        int64_t r = rc == DB_ROW ? db_column_int64(st, 0) : db_errno(rc);
        db_reset(st);
        return r;
}

int dawn_store_due_expiries(struct dawn_store *s, int64_t now, char (*ids)[DAWN_MAX_ID_CHARS + 1], int limit)
{
        struct db_stmt *st = stmt(s, ST_DUE_EXPIRIES);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, now);
        db_bind_int64(st, 2, limit);
        int n = 0, rc;
        while (n < limit && (rc = db_step(st)) == DB_ROW)
                column_copy(st, 0, ids[n++], DAWN_MAX_ID_CHARS + 1);
        db_reset(st);
        return n;
}

int64_t dawn_store_next_expiry(struct dawn_store *s)
{
        struct db_stmt *st = stmt(s, ST_NEXT_EXPIRY);
        if (!st)
                return 0;
        int64_t t = db_step(st) == DB_ROW ? db_column_int64(st, 0) : 0;
        db_reset(st);
        return t;
}

int dawn_store_revision_json(struct dawn_store *s, const char *id, int revision, char **json)
{
        struct db_stmt *st = stmt(s, ST_REVISION_JSON);
        if (!st)
                return -EIO;
        bind_text(st, 1, id);
        db_bind_int64(st, 2, revision);
        int rc = db_step(st);
        int r = rc == DB_ROW ? 1 : db_errno(rc);
        if (r == 1 && !(*json = column_strdup(st, 0)))
                r = -ENOMEM;
        db_reset(st);
        return r;
}

/* ---- reports ---- */

int dawn_store_find_submission(struct dawn_store *s, const char *source, const char *source_ref,
                               char alert_id[DAWN_MAX_ID_CHARS + 1])
{
        struct db_stmt *st = stmt(s, ST_FIND_SUBMISSION);
        if (!st)
                return -EIO;
        bind_text(st, 1, source);
        bind_text(st, 2, source_ref);
        int rc = db_step(st);
        int r = rc == DB_ROW ? 1 : db_errno(rc);
        if (r == 1)
                column_copy(st, 0, alert_id, DAWN_MAX_ID_CHARS + 1);
        db_reset(st);
        return r;
}

int dawn_store_add_submission(struct dawn_store *s, const char *source, const char *source_ref,
                              const char *alert_id, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_ADD_SUBMISSION);
        if (!st)
                return -EIO;
        bind_text(st, 1, source);
        bind_text(st, 2, source_ref);
        bind_text(st, 3, alert_id);
        db_bind_int64(st, 4, now);
        return run(s, st);
}

int dawn_store_add_corroboration(struct dawn_store *s, const char *alert_id, const char *source,
                                 const struct dawn_alert *report, int64_t now)
{
        cJSON *o = dawn_alert_to_json(report);
        char *json = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        struct db_stmt *st = json ? stmt(s, ST_REPEAT_CORROBORATION) : NULL;
        int r = json ? -EIO : -ENOMEM;
        if (st) {
                bind_text(st, 1, alert_id);
                bind_text(st, 2, source);
                db_bind_int64(st, 3, now);
                bind_text(st, 4, json);
                r = run(s, st);
        }
        /* a report its source sent before, word for word: one row that counts them, so that a
         * partner resending one report thousands of times does not make thousands of rows */
        if (r == 0 && (int)db_changes(s->db) == 0 && (st = stmt(s, ST_ADD_CORROBORATION))) {
                bind_text(st, 1, alert_id);
                bind_text(st, 2, source);
                db_bind_int64(st, 3, now);
                bind_text(st, 4, json);
                r = run(s, st);
        } else if (r == 0 && (int)db_changes(s->db) == 0) {
                r = -EIO;
        }
        free(json);
        return r;
}

int dawn_store_load_merged(struct dawn_store *s, const char *alert_id, struct dawn_alert *sum, int64_t *reports)
{
        struct db_stmt *st = stmt(s, ST_LOAD_MERGED);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        int rc = db_step(st);
        int r = rc == DB_ROW ? 1 : db_errno(rc);
        if (r == 1) {
                const char *ev = db_column_text(st, 1);
                int e = ev ? dawn_evidence_from_name((const char *)ev) : -1;
                if (reports)
                        *reports = db_column_int64(st, 0);
                sum->evidence = e < 0 ? DAWN_EVIDENCE_REPORTED : (enum dawn_evidence)e;
                sum->casualties = db_column_null(st, 2) ? -1 : db_column_int64(st, 2);
                sum->fatalities = db_column_null(st, 3) ? -1 : db_column_int64(st, 3);
                const char *t = db_column_text(st, 4);
                cJSON *arr = t ? cJSON_Parse((const char *)t) : NULL;
                const cJSON *w;
                dawn_strv_clear(&sum->adulterants);
                cJSON_ArrayForEach(w, arr) {
                        if (cJSON_IsString(w) && sum->adulterants.n < DAWN_MAX_LIST_ITEMS &&
                            dawn_strv_add(&sum->adulterants, w->valuestring) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                }
                cJSON_Delete(arr);
        }
        db_reset(st);
        return r;
}

int dawn_store_save_merged(struct dawn_store *s, const char *alert_id, const struct dawn_alert *sum, int64_t reports)
{
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; arr && i < sum->adulterants.n; i++)
                if (!cJSON_AddItemToArray(arr, cJSON_CreateString(sum->adulterants.v[i]))) {
                        cJSON_Delete(arr);
                        arr = NULL;
                }
        char *words = arr ? cJSON_PrintUnformatted(arr) : NULL;
        cJSON_Delete(arr);
        struct db_stmt *st = words ? stmt(s, ST_SAVE_MERGED) : NULL;
        int r = words ? -EIO : -ENOMEM;
        if (st) {
                bind_text(st, 1, alert_id);
                db_bind_int64(st, 2, reports);
                bind_text(st, 3, dawn_evidence_name(sum->evidence));
                if (sum->casualties >= 0)
                        db_bind_int64(st, 4, sum->casualties);
                if (sum->fatalities >= 0)
                        db_bind_int64(st, 5, sum->fatalities);
                bind_text(st, 6, words);
                r = run(s, st);
        }
        free(words);
        return r;
}

/* Alerts (their JSON in column col) from every row of st, appended to *out. */
static int alert_rows(struct db_stmt *st, int col, struct dawn_alert **out, size_t *n)
{
        int rc, r = 0;
        while (r == 0 && (rc = db_step(st)) == DB_ROW) {
                struct dawn_alert *v = realloc(*out, (*n + 1) * sizeof(**out));
                if (!v) {
                        r = -ENOMEM;
                        break;
                }
                *out = v;
                dawn_alert_init(&v[*n]);
                r = alert_from_text(db_column_text(st, col), &v[*n]);
                (*n)++;
        }
        if (r == 0 && rc != DB_DONE)
                r = db_errno(rc);
        db_reset(st);
        return r;
}

int dawn_store_load_corroborations(struct dawn_store *s, const char *alert_id, struct dawn_alert **out,
                                   size_t *n)
{
        return dawn_store_first_corroborations(s, alert_id, -1, out, n);
}

int dawn_store_first_corroborations(struct dawn_store *s, const char *alert_id, int limit, struct dawn_alert **out,
                                    size_t *n)
{
        *out = NULL;
        *n = 0;
        struct db_stmt *st = stmt(s, ST_FIRST_CORROBORATIONS);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        db_bind_int64(st, 2, limit);
        return alert_rows(st, 0, out, n);
}

int dawn_store_drop_counted_corroborations(struct dawn_store *s, const char *alert_id)
{
        struct db_stmt *st = stmt(s, ST_DROP_COUNTED_CORROBORATIONS);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        int r = run(s, st);
        if (r < 0)
                return r;
        /* the running totals summarise exactly the rows just dropped: left behind, they
         * would carry what those reports said into the next grading */
        if ((st = stmt(s, ST_DROP_MERGED)) == NULL)
                return -EIO;
        bind_text(st, 1, alert_id);
        return run(s, st);
}

int dawn_store_corroborations_json(struct dawn_store *s, const char *alert_id, cJSON *array)
{
        struct db_stmt *st = stmt(s, ST_LOAD_CORROBORATIONS);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        int rc;
        while ((rc = db_step(st)) == DB_ROW) {
                const char *t = db_column_text(st, 2);
                cJSON *report = t ? cJSON_Parse((const char *)t) : NULL;
                if (!report)
                        continue;
                char when[40];
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "source", (const char *)db_column_text(st, 0));
                cJSON_AddStringToObject(o, "received_at",
                                        dawn_time_format(db_column_int64(st, 1), when, sizeof(when)));
                cJSON_AddItemToObject(o, "report", report);
                /* held for an officer: recorded, but not counted until the proposal is approved */
                if (!db_column_null(st, 3))
                        cJSON_AddStringToObject(o, "proposal", (const char *)db_column_text(st, 3));
                /* said again word for word (or, held, folded into its proposal): how often, the latest when */
                if (db_column_int64(st, 4) > 1) {
                        cJSON_AddNumberToObject(o, "repeats", (double)db_column_int64(st, 4));
                        cJSON_AddStringToObject(o, "last_received_at",
                                                dawn_time_format(db_column_int64(st, 5), when, sizeof(when)));
                }
                cJSON_AddItemToArray(array, o);
        }
        db_reset(st);
        return rc == DB_DONE ? 0 : db_errno(rc);
}

/* ---- audit ---- */

int dawn_store_audit(struct dawn_store *s, const char *actor, const char *action, const char *alert_id,
                     const char *detail, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_AUDIT);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, now);
        bind_text(st, 2, actor);
        bind_text(st, 3, action);
        bind_text(st, 4, alert_id);
        bind_text(st, 5, detail);
        return run(s, st);
}

/* ---- outbox ---- */

void dawn_outbox_row_clear(struct dawn_outbox_row *r)
{
        free(r->subscriber);
        free(r->recipient);
        free(r->alert_json);
        free(r->about);
        memset(r, 0, sizeof(*r));
}

int dawn_store_add_delivery(struct dawn_store *s, const char *alert_id, int revision, const char *subscriber,
                            enum dawn_channel_kind channel, const char *recipient,
                            enum dawn_delivery_action action, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_ADD_DELIVERY);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        db_bind_int64(st, 2, revision);
        bind_text(st, 3, subscriber);
        bind_text(st, 4, dawn_channel_name(channel));
        bind_text(st, 5, recipient);
        bind_text(st, 6, dawn_action_name(action));
        db_bind_int64(st, 7, now);
        int r = run(s, st);
        note_insert(s, &s->tx_first.outbox, r);
        return r;
}

int dawn_store_supersede_deliveries(struct dawn_store *s, const char *alert_id, int before_revision,
                                    int64_t now)
{
        struct db_stmt *st = stmt(s, ST_SUPERSEDE);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        db_bind_int64(st, 2, before_revision);
        db_bind_int64(st, 3, now);
        int r = run_moved(s, st, -1, DAWN_DELIVERY_SUPERSEDED);
        return r < 0 ? r : 0;
}

int dawn_store_for_each_recipient(struct dawn_store *s, const char *alert_id, dawn_recipient_fn fn,
                                  void *userdata)
{
        struct db_stmt *st = stmt(s, ST_RECIPIENTS);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        /* collect first: fn may write to the outbox, which this query reads */
        struct { char *sub, *rcpt; int ch; bool reached, escalation_only; } *rows = NULL;
        size_t n = 0;
        int rc, r = 0;
        while ((rc = db_step(st)) == DB_ROW) {
                void *v = realloc(rows, (n + 1) * sizeof(*rows));
                if (!v) {
                        r = -ENOMEM;
                        break;
                }
                rows = v;
                rows[n].sub = column_strdup(st, 0);
                rows[n].ch = dawn_channel_from_name((const char *)db_column_text(st, 1));
                rows[n].rcpt = column_strdup(st, 2);
                rows[n].reached = db_column_int(st, 3) != 0;
                rows[n].escalation_only = db_column_int(st, 4) != 0;
                n++;
        }
        if (r == 0 && rc != DB_DONE)
                r = db_errno(rc);
        db_reset(st);
        for (size_t i = 0; i < n; i++) {
                if (r == 0 && rows[i].ch >= 0 && rows[i].sub && rows[i].rcpt)
                        r = fn(rows[i].sub, (enum dawn_channel_kind)rows[i].ch, rows[i].rcpt, rows[i].reached,
                               rows[i].escalation_only, userdata);
                free(rows[i].sub);
                free(rows[i].rcpt);
        }
        free(rows);
        return r;
}

static int due_rows(struct dawn_store *s, enum stmt_id id, enum dawn_channel_kind channel, int64_t now,
                    struct dawn_outbox_row *rows, int limit)
{
        struct db_stmt *st = stmt(s, id);
        if (!st)
                return -EIO;
        bind_text(st, 1, dawn_channel_name(channel));
        db_bind_int64(st, 2, now);
        db_bind_int64(st, 3, limit);
        db_bind_int64(st, 4, below(s->tx_first.outbox));
        int n = 0, rc;
        while (n < limit && (rc = db_step(st)) == DB_ROW) {
                struct dawn_outbox_row *r = &rows[n];
                memset(r, 0, sizeof(*r));
                r->id = db_column_int64(st, 0);
                column_copy(st, 1, r->alert_id, sizeof(r->alert_id));
                r->revision = db_column_int(st, 2);
                r->subscriber = column_strdup(st, 3);
                r->channel = channel;
                r->recipient = column_strdup(st, 4);
                r->action = (enum dawn_delivery_action)dawn_action_from_name((const char *)db_column_text(st, 5));
                r->state = (enum dawn_delivery_state)dawn_delivery_state_from_name(
                        (const char *)db_column_text(st, 6));
                r->attempts = db_column_int(st, 7);
                r->created_at = db_column_int64(st, 8);
                r->alert_json = column_strdup(st, 9);
                column_copy(st, 10, r->purpose, sizeof(r->purpose));
                r->about = column_strdup(st, 11);
                n++;
                if (!r->subscriber || !r->recipient || !r->alert_json || !r->about) {
                        db_reset(st);
                        for (int i = 0; i < n; i++)
                                dawn_outbox_row_clear(&rows[i]);
                        return -ENOMEM;
                }
        }
        db_reset(st);
        return n;
}

int dawn_store_due_deliveries(struct dawn_store *s, enum dawn_channel_kind channel, int64_t now,
                              struct dawn_outbox_row *rows, int limit)
{
        int n = due_rows(s, ST_DUE, channel, now, rows, limit);
        if (n < 0 || n == limit)
                return n;
        int k = due_rows(s, ST_DUE_PUBLIC, channel, now, rows + n, limit - n);
        if (k < 0) {
                for (int i = 0; i < n; i++)
                        dawn_outbox_row_clear(&rows[i]);
                return k;
        }
        return n + k;
}

int64_t dawn_store_next_due(struct dawn_store *s, enum dawn_channel_kind channel)
{
        struct db_stmt *st = stmt(s, ST_NEXT_DUE);
        if (!st)
                return 0;
        bind_text(st, 1, dawn_channel_name(channel));
        int64_t t = db_step(st) == DB_ROW ? db_column_int64(st, 0) : 0;
        db_reset(st);
        return t;
}

int dawn_store_delivery_started(struct dawn_store *s, int64_t id, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_STARTED);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, id);
        db_bind_int64(st, 2, now);
        bind_text(st, 3, s->node);
        db_bind_int64(st, 4, s->lease_usec);
        int r = run(s, st);
        /* not waiting any more (read and written in one transaction, so it never happens):
         * whatever it is now, it must not be sent */
        return r < 0 ? r : (int)db_changes(s->db) > 0 ? 0 : -ESTALE;
}

int dawn_store_delivery_finished(struct dawn_store *s, int64_t id, enum dawn_delivery_state state,
                                 const char *error, int64_t next_at, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_FINISHED);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, id);
        bind_text(st, 2, dawn_delivery_state_name(state));
        bind_text(st, 3, error);
        db_bind_int64(st, 4, next_at);
        db_bind_int64(st, 5, now);
        bind_text(st, 6, s->node);
        /* from a live state only (the statement's WHERE) */
        int r = run_moved(s, st, -1, (int)state);
        return r < 0 ? r : 0;
}

int dawn_store_delivery_move(struct dawn_store *s, int64_t id, enum dawn_delivery_state from,
                             enum dawn_delivery_state to, const char *error, int64_t next_at, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_MOVE_DELIVERY);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, id);
        bind_text(st, 2, dawn_delivery_state_name(from));
        bind_text(st, 3, dawn_delivery_state_name(to));
        bind_text(st, 4, error);
        db_bind_int64(st, 5, next_at);
        db_bind_int64(st, 6, now);
        int r = run_moved(s, st, (int)from, (int)to);
        return r < 0 ? r : r > 0;
}

int dawn_store_fail_expired(struct dawn_store *s, enum dawn_channel_kind channel, int64_t created_before,
                            const char *reason, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_FAIL_EXPIRED);
        if (!st)
                return -EIO;
        bind_text(st, 1, dawn_channel_name(channel));
        db_bind_int64(st, 2, created_before);
        bind_text(st, 3, reason);
        db_bind_int64(st, 4, now);
        int r = run(s, st);
        if (r < 0)
                return r;
        int n = (int)db_changes(s->db);
        ended_note(s, (int)channel, DAWN_DELIVERY_FAILED, n); /* from waiting */
        return n;
}

int dawn_store_requeue_channel(struct dawn_store *s, enum dawn_channel_kind channel, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_REQUEUE_CHANNEL);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, now);
        bind_text(st, 2, s->node);
        bind_text(st, 3, dawn_channel_name(channel));
        int r = run(s, st);
        if (r < 0)
                return r;
        int n = (int)db_changes(s->db);
        if (channel != DAWN_CHANNEL_SMS)
                return n;
        /* SMS replies left in flight go back to the queue with the channel's texts */
        if (!(st = stmt(s, ST_REPLY_REQUEUE)))
                return -EIO;
        db_bind_int64(st, 1, now);
        bind_text(st, 2, s->node);
        r = run(s, st);
        return r < 0 ? r : n + (int)db_changes(s->db);
}

int dawn_store_requeue_inflight(struct dawn_store *s, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_REQUEUE);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, now);
        bind_text(st, 2, s->node);
        int r = run(s, st);
        if (r < 0)
                return r;
        int n = (int)db_changes(s->db);
        /* SMS replies left in flight go back to the queue the same way */
        if (!(st = stmt(s, ST_REPLY_REQUEUE)))
                return -EIO;
        db_bind_int64(st, 1, now);
        bind_text(st, 2, s->node);
        r = run(s, st);
        return r < 0 ? r : n + (int)db_changes(s->db);
}

int dawn_store_deliveries_json(struct dawn_store *s, const char *alert_id, cJSON *array)
{
        struct db_stmt *st = stmt(s, ST_DELIVERIES);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        int rc;
        while ((rc = db_step(st)) == DB_ROW) {
                static const char *const text_cols[] = { "subscriber", "channel", "recipient", "action" };
                cJSON *o = cJSON_CreateObject();
                for (int i = 0; i < 4; i++)
                        cJSON_AddStringToObject(o, text_cols[i], (const char *)db_column_text(st, i));
                cJSON_AddNumberToObject(o, "revision", db_column_int(st, 4));
                cJSON_AddStringToObject(o, "state", (const char *)db_column_text(st, 5));
                cJSON_AddNumberToObject(o, "attempts", db_column_int(st, 6));
                if (db_column_null(st, 7))
                        cJSON_AddNullToObject(o, "last_error");
                else
                        cJSON_AddStringToObject(o, "last_error", (const char *)db_column_text(st, 7));
                char when[40];
                if (db_column_int64(st, 8))
                        cJSON_AddStringToObject(o, "next_at",
                                                dawn_time_format(db_column_int64(st, 8), when, sizeof(when)));
                cJSON_AddStringToObject(o, "updated_at",
                                        dawn_time_format(db_column_int64(st, 9), when, sizeof(when)));
                const char *purpose = (const char *)db_column_text(st, 10);
                if (purpose && strcmp(purpose, "alert") != 0) { /* an escalation or public text */
                        cJSON_AddStringToObject(o, "purpose", purpose);
                        cJSON_AddStringToObject(o, "about", (const char *)db_column_text(st, 11));
                }
                cJSON_AddItemToArray(array, o);
        }
        db_reset(st);
        return rc == DB_DONE ? 0 : db_errno(rc);
}

static int by_name(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Adds the rows of a (channel, state, count) statement into n. 0 or -errno. */
static int add_channel_state_counts(struct dawn_store *s, enum stmt_id id,
                                    int64_t n[DAWN_CHANNEL_COUNT][DAWN_DELIVERY_STATE_COUNT])
{
        struct db_stmt *st = stmt(s, id);
        if (!st)
                return -EIO;
        int rc;
        while ((rc = db_step(st)) == DB_ROW) {
                int c = dawn_channel_from_name((const char *)db_column_text(st, 0));
                int k = dawn_delivery_state_from_name((const char *)db_column_text(st, 1));
                if (c >= 0 && c < DAWN_CHANNEL_COUNT && k >= 0 && k < DAWN_DELIVERY_STATE_COUNT)
                        n[c][k] += db_column_int64(st, 2);
        }
        db_reset(st);
        return rc == DB_DONE ? 0 : db_errno(rc);
}

int dawn_store_queue_counts(struct dawn_store *s, cJSON *object)
{
        int64_t n[DAWN_CHANNEL_COUNT][DAWN_DELIVERY_STATE_COUNT];
        memset(n, 0, sizeof(n));
        int r = 0;
        if (!dawn_store_shared(s))
                memcpy(n, s->ended.committed, sizeof(n));
        else /* several nodes: every node's changes, summed (counts_flush) */
                r = add_channel_state_counts(s, ST_ENDED_SUMS, n);
        if (r == 0)
                r = add_channel_state_counts(s, ST_QUEUE_COUNTS, n);
        if (r < 0)
                return r;
        /* the shape and order GROUP BY channel, state gave: names in byte order, no zeros */
        const char *channels[DAWN_CHANNEL_COUNT], *states[DAWN_DELIVERY_STATE_COUNT];
        for (int c = 0; c < DAWN_CHANNEL_COUNT; c++)
                channels[c] = dawn_channel_name((enum dawn_channel_kind)c);
        for (int k = 0; k < DAWN_DELIVERY_STATE_COUNT; k++)
                states[k] = dawn_delivery_state_name((enum dawn_delivery_state)k);
        qsort(channels, DAWN_CHANNEL_COUNT, sizeof(channels[0]), by_name);
        qsort(states, DAWN_DELIVERY_STATE_COUNT, sizeof(states[0]), by_name);
        for (int i = 0; i < DAWN_CHANNEL_COUNT; i++) {
                int c = dawn_channel_from_name(channels[i]);
                cJSON *o = NULL;
                for (int j = 0; j < DAWN_DELIVERY_STATE_COUNT; j++) {
                        int k = dawn_delivery_state_from_name(states[j]);
                        if (n[c][k] <= 0)
                                continue;
                        if (!o && !(o = cJSON_AddObjectToObject(object, channels[i])))
                                return -ENOMEM;
                        cJSON_AddNumberToObject(o, states[j], (double)n[c][k]);
                }
        }
        return 0;
}

int dawn_store_alert_counts(struct dawn_store *s, cJSON *object)
{
        int64_t n[DAWN_STATUS_COUNT][DAWN_GRADE_COUNT];
        if (!dawn_store_shared(s)) {
                memcpy(n, s->alerts.committed, sizeof(n));
        } else {
                /* several nodes: every node's changes, summed (counts_flush) */
                memset(n, 0, sizeof(n));
                struct db_stmt *st = stmt(s, ST_ALERT_COUNTS);
                if (!st)
                        return -EIO;
                int rc;
                while ((rc = db_step(st)) == DB_ROW) {
                        int k = dawn_status_from_name((const char *)db_column_text(st, 0));
                        int g = dawn_grade_from_name((const char *)db_column_text(st, 1));
                        if (k >= 0 && k < DAWN_STATUS_COUNT && g >= 0 && g < DAWN_GRADE_COUNT)
                                n[k][g] += db_column_int64(st, 2);
                }
                db_reset(st);
                if (rc != DB_DONE)
                        return db_errno(rc);
        }
        for (int k = 0; k < DAWN_STATUS_COUNT; k++)
                for (int g = 0; g < DAWN_GRADE_COUNT; g++) {
                        if (!n[k][g])
                                continue;
                        const char *status = dawn_status_name((enum dawn_status)k);
                        cJSON *c = cJSON_GetObjectItemCaseSensitive(object, status);
                        if (!c && !(c = cJSON_AddObjectToObject(object, status)))
                                return -ENOMEM;
                        if (!cJSON_AddNumberToObject(c, dawn_grade_name((enum dawn_grade)g), (double)n[k][g]))
                                return -ENOMEM;
                }
        return 0;
}

/* ---- partner intake ---- */


int dawn_store_alerts_by_type(struct dawn_store *s, enum dawn_type type, int64_t since_usec, bool open_only,
                              struct dawn_alert **out, size_t *n)
{
        *out = NULL;
        *n = 0;
        struct db_stmt *st = stmt(s, open_only ? ST_OPEN_ALERTS_BY_TYPE : ST_ALERTS_BY_TYPE);
        if (!st)
                return -EIO;
        bind_text(st, 1, dawn_type_name(type));
        db_bind_int64(st, 2, since_usec);
        return alert_rows(st, 0, out, n);
}

int dawn_store_set_opt_out(struct dawn_store *s, const char *number, bool opted_out, const char *via,
                           int64_t now)
{
        struct db_stmt *st = stmt(s, opted_out ? ST_OPTOUT_ADD : ST_OPTOUT_REMOVE);
        if (!st)
                return -EIO;
        bind_text(st, 1, number);
        if (opted_out) {
                bind_text(st, 2, via);
                db_bind_int64(st, 3, now);
        }
        int r = run(s, st);
        if (r < 0)
                return r;
        int changed = (int)db_changes(s->db);
        if (opted_out && (st = stmt(s, ST_OPTOUT_WAITING))) {
                bind_text(st, 1, number);
                db_bind_int64(st, 2, now);
                r = run(s, st);
                if (r == 0) /* sms, from waiting */
                        ended_note(s, DAWN_CHANNEL_SMS, DAWN_DELIVERY_OPTED_OUT, (int)db_changes(s->db));
        }
        return r < 0 ? r : changed > 0;
}

int dawn_store_opted_out(struct dawn_store *s, const char *number)
{
        struct db_stmt *st = stmt(s, ST_OPTOUT_GET);
        if (!st)
                return -EIO;
        bind_text(st, 1, number);
        int rc = db_step(st);
        int r = rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : db_errno(rc);
        db_reset(st);
        return r;
}

int dawn_store_opt_outs_json(struct dawn_store *s, cJSON *array)
{
        struct db_stmt *st = stmt(s, ST_OPTOUT_LIST);
        if (!st)
                return -EIO;
        int rc;
        while ((rc = db_step(st)) == DB_ROW) {
                char when[40];
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "number", (const char *)db_column_text(st, 0));
                cJSON_AddStringToObject(o, "via", (const char *)db_column_text(st, 1));
                dawn_time_format(db_column_int64(st, 2), when, sizeof(when));
                cJSON_AddStringToObject(o, "since", when);
                cJSON_AddItemToArray(array, o);
        }
        db_reset(st);
        return rc == DB_DONE ? 0 : db_errno(rc);
}

int dawn_store_add_ack(struct dawn_store *s, const char *alert_id, int revision, const char *subscriber,
                       const char *via, const char *by, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_ACK_ADD);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        db_bind_int64(st, 2, revision);
        bind_text(st, 3, subscriber);
        bind_text(st, 4, via);
        bind_text(st, 5, by);
        db_bind_int64(st, 6, now);
        int r = run(s, st);
        return r < 0 ? r : (int)db_changes(s->db) > 0;
}

int dawn_store_acks_json(struct dawn_store *s, const char *alert_id, cJSON *array)
{
        struct db_stmt *st = stmt(s, ST_ACK_LIST);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        int rc;
        while ((rc = db_step(st)) == DB_ROW) {
                char when[40];
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "subscriber", (const char *)db_column_text(st, 0));
                cJSON_AddStringToObject(o, "via", (const char *)db_column_text(st, 1));
                cJSON_AddStringToObject(o, "by", (const char *)db_column_text(st, 2));
                cJSON_AddNumberToObject(o, "revision", db_column_int(st, 3));
                dawn_time_format(db_column_int64(st, 4), when, sizeof(when));
                cJSON_AddStringToObject(o, "at", when);
                cJSON_AddItemToArray(array, o);
        }
        db_reset(st);
        return rc == DB_DONE ? 0 : db_errno(rc);
}

int dawn_store_load_delivery(struct dawn_store *s, int64_t id, struct dawn_outbox_row *row)
{
        struct db_stmt *st = stmt(s, ST_LOAD_DELIVERY);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, id);
        int rc = db_step(st);
        int r = rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : db_errno(rc);
        if (r == 1) {
                memset(row, 0, sizeof(*row));
                row->id = db_column_int64(st, 0);
                snprintf(row->alert_id, sizeof(row->alert_id), "%s", (const char *)db_column_text(st, 1));
                row->revision = db_column_int(st, 2);
                row->subscriber = column_strdup(st, 3);
                row->channel = (enum dawn_channel_kind)dawn_channel_from_name((const char *)db_column_text(st, 4));
                row->recipient = column_strdup(st, 5);
                row->action = (enum dawn_delivery_action)dawn_action_from_name((const char *)db_column_text(st, 6));
                row->state = (enum dawn_delivery_state)dawn_delivery_state_from_name((const char *)db_column_text(st, 7));
                row->attempts = db_column_int(st, 8);
                row->created_at = db_column_int64(st, 9);
                if (!row->subscriber || !row->recipient || (int)row->channel < 0 || (int)row->action < 0 ||
                    (int)row->state < 0) {
                        dawn_outbox_row_clear(row);
                        r = -EIO;
                }
        }
        db_reset(st);
        return r;
}

int dawn_store_hold_opted_out(struct dawn_store *s, const char *number, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_OPTOUT_WAITING);
        if (!st)
                return -EIO;
        bind_text(st, 1, number);
        db_bind_int64(st, 2, now);
        int r = run(s, st);
        if (r == 0) /* sms, from waiting */
                ended_note(s, DAWN_CHANNEL_SMS, DAWN_DELIVERY_OPTED_OUT, (int)db_changes(s->db));
        return r;
}

/* ---- clusters ---- */

int dawn_store_find_open_cluster(struct dawn_store *s, const char *areas_json, int64_t since_usec,
                                 char id[DAWN_MAX_ID_CHARS + 1])
{
        struct db_stmt *st = stmt(s, ST_OPEN_CLUSTER);
        if (!st)
                return -EIO;
        bind_text(st, 1, areas_json);
        db_bind_int64(st, 2, since_usec);
        int rc = db_step(st);
        int r = rc == DB_ROW ? 1 : db_errno(rc);
        if (r == 1)
                column_copy(st, 0, id, DAWN_MAX_ID_CHARS + 1);
        db_reset(st);
        return r;
}

int dawn_store_unclustered_reports(struct dawn_store *s, const char *areas_json, int64_t since_usec,
                                   struct dawn_alert **out, size_t *n)
{
        *out = NULL;
        *n = 0;
        struct db_stmt *st = stmt(s, ST_UNCLUSTERED);
        if (!st)
                return -EIO;
        bind_text(st, 1, areas_json);
        db_bind_int64(st, 2, since_usec);
        return alert_rows(st, 0, out, n);
}

int dawn_store_set_report_cluster(struct dawn_store *s, const char *report_id, const char *cluster_id)
{
        struct db_stmt *st = stmt(s, ST_SET_REPORT_CLUSTER);
        if (!st)
                return -EIO;
        bind_text(st, 1, report_id);
        bind_text(st, 2, cluster_id);
        return run(s, st);
}

int dawn_store_cluster_add_reports(struct dawn_store *s, const char *cluster_id, int64_t n)
{
        struct db_stmt *st = stmt(s, ST_CLUSTER_ADD_REPORTS);
        if (!st)
                return -EIO;
        bind_text(st, 1, cluster_id);
        db_bind_int64(st, 2, n);
        return run(s, st);
}

int64_t dawn_store_cluster_reports(struct dawn_store *s, const char *cluster_id)
{
        struct db_stmt *st = stmt(s, ST_CLUSTER_REPORTS);
        if (!st)
                return -EIO;
        bind_text(st, 1, cluster_id);
        int rc = db_step(st);
        int64_t r = rc == DB_ROW ? db_column_int64(st, 0) : rc == DB_DONE ? 0 : db_errno(rc);
        db_reset(st);
        return r;
}

/* ---- proposals ---- */

int dawn_store_next_proposal_id(struct dawn_store *s, char id[DAWN_MAX_ID_CHARS + 1], int *revision)
{
        struct db_stmt *st = stmt(s, ST_NEXT_PROPOSAL_SEQ);
        if (!st || db_step(st) != DB_ROW)
                return db_last_error(s->db);
        int64_t seq = db_column_int64(st, 0);
        db_reset(st);
        if (seq > DAWN_PROPOSAL_SEQ_MAX)
                return -EOVERFLOW;
        snprintf(id, DAWN_MAX_ID_CHARS + 1, "P%lld", (long long)seq);
        *revision = DAWN_PROPOSAL_REVISION_BASE + (int)seq;
        return 0;
}

int dawn_store_add_held_corroboration(struct dawn_store *s, const char *alert_id, const char *source,
                                      const struct dawn_alert *report, const char *proposal, int64_t now,
                                      int64_t *row)
{
        cJSON *o = dawn_alert_to_json(report);
        char *json = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        struct db_stmt *st = json ? stmt(s, ST_ADD_HELD_CORROBORATION) : NULL;
        int r = json ? -EIO : -ENOMEM;
        if (st) {
                bind_text(st, 1, alert_id);
                bind_text(st, 2, source);
                db_bind_int64(st, 3, now);
                bind_text(st, 4, json);
                bind_text(st, 5, proposal);
                r = run(s, st);
        }
        if (r == 0)
                *row = db_last_insert_id(s->db);
        free(json);
        return r;
}

int dawn_store_corroboration_report(struct dawn_store *s, int64_t row, struct dawn_alert *report)
{
        struct db_stmt *st = stmt(s, ST_CORROBORATION_REPORT);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, row);
        int rc = db_step(st);
        int r = rc == DB_ROW ? alert_from_text(db_column_text(st, 0), report) : db_errno(rc);
        if (r == 0 && rc == DB_ROW)
                r = 1;
        db_reset(st);
        return r;
}

int dawn_store_add_proposal(struct dawn_store *s, const struct dawn_proposal *p, const char *json)
{
        struct db_stmt *st = stmt(s, ST_ADD_PROPOSAL);
        if (!st)
                return -EIO;
        bind_text(st, 1, p->id);
        db_bind_int64(st, 2, p->revision - DAWN_PROPOSAL_REVISION_BASE);
        bind_text(st, 3, p->alert_id);
        db_bind_int64(st, 4, p->corroboration);
        bind_text(st, 5, p->source);
        bind_text(st, 6, dawn_grade_name(p->grade_from));
        bind_text(st, 7, dawn_grade_name(p->grade_to));
        db_bind_int64(st, 8, p->created_at);
        bind_text(st, 9, json);
        int r = run(s, st);
        /* the review notice's text, where the outbox finds every delivery's text */
        if (r == 0 && (st = stmt(s, ST_INSERT_REVISION))) {
                bind_text(st, 1, p->alert_id);
                db_bind_int64(st, 2, p->revision);
                db_bind_int64(st, 3, p->created_at);
                bind_text(st, 4, json);
                r = run(s, st);
        }
        return r;
}

static int proposal_row(struct db_stmt *st, struct dawn_proposal *p);

int dawn_store_load_proposal(struct dawn_store *s, const char *id, struct dawn_proposal *p)
{
        struct db_stmt *st = stmt(s, ST_LOAD_PROPOSAL);
        if (!st)
                return -EIO;
        bind_text(st, 1, id);
        return proposal_row(st, p);
}

int dawn_store_pending_proposal(struct dawn_store *s, const char *alert_id, const char *source,
                                struct dawn_proposal *p)
{
        struct db_stmt *st = stmt(s, ST_PENDING_PROPOSAL_FROM);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        bind_text(st, 2, source);
        return proposal_row(st, p);
}

int dawn_store_update_held_corroboration(struct dawn_store *s, int64_t row, const struct dawn_alert *report,
                                         const char *proposal, int64_t now)
{
        cJSON *o = dawn_alert_to_json(report);
        char *json = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        struct db_stmt *st = json ? stmt(s, ST_UPDATE_HELD) : NULL;
        int r = json ? -EIO : -ENOMEM;
        if (st) {
                db_bind_int64(st, 1, row);
                bind_text(st, 2, json);
                bind_text(st, 3, proposal);
                db_bind_int64(st, 4, now);
                r = run(s, st);
        }
        if (r == 0 && (int)db_changes(s->db) != 1)
                r = -ESTALE; /* the proposal names a row the store must have */
        free(json);
        return r;
}

int dawn_store_update_proposal(struct dawn_store *s, const struct dawn_proposal *p, const char *json)
{
        struct db_stmt *st = stmt(s, ST_UPDATE_PROPOSAL);
        if (!st)
                return -EIO;
        bind_text(st, 1, p->id);
        bind_text(st, 2, dawn_grade_name(p->grade_from));
        bind_text(st, 3, dawn_grade_name(p->grade_to));
        bind_text(st, 4, json);
        int r = run(s, st);
        if (r == 0 && (int)db_changes(s->db) != 1)
                r = -ESTALE; /* not pending: the caller found it pending in this transaction */
        /* a review notice still waiting goes with what the proposal says now */
        if (r == 0 && (st = stmt(s, ST_UPDATE_NOTICE_TEXT))) {
                bind_text(st, 1, p->alert_id);
                db_bind_int64(st, 2, p->revision);
                bind_text(st, 3, json);
                r = run(s, st);
        }
        return r;
}

static int proposal_row(struct db_stmt *st, struct dawn_proposal *p)
{
        int rc = db_step(st);
        int r = rc == DB_ROW ? 1 : db_errno(rc);
        if (r == 1) {
                memset(p, 0, sizeof(*p));
                column_copy(st, 0, p->id, sizeof(p->id));
                p->revision = DAWN_PROPOSAL_REVISION_BASE + db_column_int(st, 1);
                column_copy(st, 2, p->alert_id, sizeof(p->alert_id));
                p->corroboration = db_column_int64(st, 3);
                column_copy(st, 4, p->source, sizeof(p->source));
                column_copy(st, 5, p->status, sizeof(p->status));
                int from = dawn_grade_from_name((const char *)db_column_text(st, 6));
                int to = dawn_grade_from_name((const char *)db_column_text(st, 7));
                p->grade_from = from < 0 ? DAWN_GRADE_LOGGED : (enum dawn_grade)from;
                p->grade_to = to < 0 ? DAWN_GRADE_LOGGED : (enum dawn_grade)to;
                p->created_at = db_column_int64(st, 8);
        }
        db_reset(st);
        return r;
}

int dawn_store_decide_proposal(struct dawn_store *s, const struct dawn_proposal *p, const char *status,
                               const char *by, const char *reason, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_DECIDE_PROPOSAL);
        if (!st)
                return -EIO;
        bind_text(st, 1, p->id);
        bind_text(st, 2, status);
        bind_text(st, 3, by);
        bind_text(st, 4, reason);
        db_bind_int64(st, 5, now);
        int r = run(s, st);
        if (r == 0 && (int)db_changes(s->db) != 1)
                r = -ESTALE; /* decided already: the caller checked, so this is a bug, not a race */
        /* approved: the held report now counts */
        if (r == 0 && strcmp(status, "approved") == 0 && (st = stmt(s, ST_RELEASE_CORROBORATION))) {
                db_bind_int64(st, 1, p->corroboration);
                r = run(s, st);
        }
        if (r == 0)
                r = dawn_store_supersede_notices(s, p->alert_id, p->revision, p->revision, now);
        return r;
}

int dawn_store_supersede_notices(struct dawn_store *s, const char *alert_id, int from_revision, int to_revision,
                                 int64_t now)
{
        struct db_stmt *st = stmt(s, ST_SUPERSEDE_NOTICES);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        db_bind_int64(st, 2, from_revision);
        db_bind_int64(st, 3, to_revision);
        db_bind_int64(st, 4, now);
        int r = run_moved(s, st, -1, DAWN_DELIVERY_SUPERSEDED);
        return r < 0 ? r : 0;
}

int dawn_store_close_proposals(struct dawn_store *s, const char *alert_id, const char *status, const char *reason,
                               int64_t now)
{
        struct db_stmt *st = stmt(s, ST_CLOSE_PROPOSALS);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        bind_text(st, 2, status);
        bind_text(st, 3, reason);
        db_bind_int64(st, 4, now);
        int r = run(s, st);
        if (r == 0)
                r = dawn_store_supersede_notices(s, alert_id, DAWN_PROPOSAL_REVISION_BASE, INT32_MAX, now);
        return r;
}

int dawn_store_waiting_proposals_json(struct dawn_store *s, cJSON *array)
{
        struct db_stmt *st = stmt(s, ST_WAITING_PROPOSALS);
        return st ? json_rows(s, st, array) : -EIO;
}

/* ---- history and audit (dawnctl history, dawnctl audit) ---- */

/* {"at", "actor", "event"|"action", "revision"?, "alert"?, "detail"} from one row of
 * ST_HISTORY (columns at, actor, event, revision, detail) or ST_AUDIT_LIST (at,
 * actor, action, alert_id, detail). */
static cJSON *trail_row(struct db_stmt *st, bool history)
{
        char when[40];
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        dawn_time_format(db_column_int64(st, 0), when, sizeof(when));
        const char *actor = db_column_text(st, 1), *what = db_column_text(st, 2);
        const char *detail = db_column_text(st, 4);
        bool ok = cJSON_AddStringToObject(o, "at", when) &&
                  cJSON_AddStringToObject(o, "actor", actor ? (const char *)actor : "") &&
                  cJSON_AddStringToObject(o, history ? "event" : "action", what ? (const char *)what : "");
        if (ok && history && !db_column_null(st, 3))
                ok = cJSON_AddNumberToObject(o, "revision", db_column_int(st, 3)) != NULL;
        if (ok && !history && !db_column_null(st, 3))
                ok = cJSON_AddStringToObject(o, "alert", (const char *)db_column_text(st, 3)) != NULL;
        if (ok)
                ok = cJSON_AddStringToObject(o, "detail", detail ? (const char *)detail : "") != NULL;
        if (!ok) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

/* Appends rows of st to array while they stay within limit rows and
 * DAWN_TRAIL_MAX_BYTES of text; returns 1 if st had more, 0 if not, or -errno. */
static size_t text_len(struct db_stmt *st, int i)
{
        const char *t = db_column_text(st, i);
        return t ? strlen(t) : 0;
}

static int trail_rows(struct db_stmt *st, bool history, int limit, cJSON *array)
{
        int rc, n = 0, r = 0;
        size_t bytes = 0;
        while ((rc = db_step(st)) == DB_ROW) {
                /* what the row costs as JSON, near enough: its text and the keys around it */
                bytes += text_len(st, 1) + text_len(st, 4) + 96;
                if (n >= limit || bytes > DAWN_TRAIL_MAX_BYTES) {
                        r = 1;
                        break;
                }
                cJSON *o = trail_row(st, history);
                if (!o || !cJSON_AddItemToArray(array, o)) {
                        cJSON_Delete(o);
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        if (r == 0 && rc != DB_DONE)
                r = db_errno(rc);
        db_reset(st);
        return r;
}

int dawn_store_history_json(struct dawn_store *s, const char *alert_id, int limit, cJSON *array, bool *more)
{
        struct db_stmt *st = stmt(s, ST_HISTORY);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        db_bind_int64(st, 2, limit + 1);
        int r = trail_rows(st, true, limit, array);
        *more = r == 1;
        return r < 0 ? r : 0;
}

int dawn_store_audit_json(struct dawn_store *s, int64_t since, const char *actor, int limit, cJSON *array,
                          bool *more)
{
        /* newest first, so that what the limits leave out is the oldest; then turned round */
        struct db_stmt *st = stmt(s, ST_AUDIT_LIST);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, since);
        bind_text(st, 2, actor);
        db_bind_int64(st, 3, limit + 1);
        cJSON *newest = cJSON_CreateArray();
        if (!newest)
                return -ENOMEM;
        int r = trail_rows(st, false, limit, newest);
        *more = r == 1;
        cJSON *o;
        while (r >= 0 && (o = cJSON_GetArrayItem(newest, cJSON_GetArraySize(newest) - 1)))
                cJSON_AddItemToArray(array, cJSON_DetachItemViaPointer(newest, o));
        cJSON_Delete(newest);
        return r < 0 ? r : 0;
}

/* ---- what the store costs ---- */

int dawn_store_prepare_all(struct dawn_store *s, cJSON *failed)
{
        int bad = 0;
        bool pg = s->db->ops->dialect == DB_DIALECT_POSTGRESQL;
        for (int i = 0; i < ST_COUNT; i++)
                if ((stmt_sql[i] || (pg && stmt_sql_pg[i])) && !stmt(s, (enum stmt_id)i)) {
                        bad++;
                        char line[600];
                        snprintf(line, sizeof(line), "statement %d: %s", i, db_errmsg(s->db));
                        cJSON_AddItemToArray(failed, cJSON_CreateString(line));
                }
        return bad;
}

uint64_t dawn_store_vm_steps(struct dawn_store *s)
{
        const struct db_ops *ops = s->db->ops;
        return ops->work_done ? ops->work_done(s->db, s->stmt, ST_COUNT) : 0;
}

int dawn_store_note_twilio_request(struct dawn_store *s, const char *sid, const char *kind, int64_t keep_until,
                                   int64_t now)
{
        struct db_stmt *st = stmt(s, ST_TWILIO_SEEN);
        if (!st)
                return -EIO;
        bind_text(st, 1, sid);
        bind_text(st, 2, kind);
        db_bind_int64(st, 3, now);
        db_bind_int64(st, 4, keep_until);
        int r = run(s, st);
        if (r < 0)
                return r;
        bool added = (int)db_changes(s->db) > 0;
        if ((st = stmt(s, ST_TWILIO_PRUNE)) == NULL)
                return -EIO;
        db_bind_int64(st, 1, now);
        r = run(s, st);
        return r < 0 ? r : added;
}

int dawn_store_alert_reached(struct dawn_store *s, const char *alert_id, enum dawn_channel_kind channel,
                             const char *subscriber, const char *recipient, int *revision,
                             char reached_subscriber[DAWN_MAX_SUBSCRIBER_CHARS + 1])
{
        struct db_stmt *st = stmt(s, ST_REACHED);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        bind_text(st, 2, dawn_channel_name(channel));
        bind_text(st, 3, subscriber);
        bind_text(st, 4, recipient);
        int rc = db_step(st);
        int r = rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : db_errno(rc);
        if (r == 1) {
                if (reached_subscriber)
                        column_copy(st, 0, reached_subscriber, DAWN_MAX_SUBSCRIBER_CHARS + 1);
                if (revision)
                        *revision = db_column_int(st, 1);
        }
        db_reset(st);
        return r;
}

/* ---- escalation (issue 13 part 1) ---- */

int dawn_store_start_escalation(struct dawn_store *s, const char *alert_id, const char *subscriber, int64_t due_at,
                                int64_t now)
{
        struct db_stmt *st = stmt(s, ST_ESC_START);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        bind_text(st, 2, subscriber);
        db_bind_int64(st, 3, now);
        db_bind_int64(st, 4, due_at);
        int r = run(s, st);
        return r < 0 ? r : (int)db_changes(s->db) > 0;
}

int dawn_store_decide_escalation(struct dawn_store *s, const char *alert_id, const char *subscriber,
                                 const char *state, const char *detail, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_ESC_DECIDE);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        bind_text(st, 2, subscriber);
        bind_text(st, 3, state);
        bind_text(st, 4, detail);
        db_bind_int64(st, 5, now);
        int r = run(s, st);
        return r < 0 ? r : (int)db_changes(s->db) > 0;
}

int dawn_store_stop_escalations(struct dawn_store *s, const char *alert_id, const char *why, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_ESC_STOP_ALL);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        bind_text(st, 2, why);
        db_bind_int64(st, 3, now);
        int r = run(s, st);
        return r < 0 ? r : (int)db_changes(s->db);
}

int dawn_store_due_escalations(struct dawn_store *s, int64_t now, struct dawn_escalation_row *rows, int limit)
{
        struct db_stmt *st = stmt(s, ST_ESC_DUE);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, now);
        db_bind_int64(st, 2, limit);
        int n = 0, rc;
        while (n < limit && (rc = db_step(st)) == DB_ROW) {
                struct dawn_escalation_row *r = &rows[n++];
                column_copy(st, 0, r->alert_id, sizeof(r->alert_id));
                column_copy(st, 1, r->subscriber, sizeof(r->subscriber));
                r->started_at = db_column_int64(st, 2);
                r->due_at = db_column_int64(st, 3);
        }
        db_reset(st);
        return n;
}

int64_t dawn_store_next_escalation(struct dawn_store *s)
{
        struct db_stmt *st = stmt(s, ST_ESC_NEXT);
        if (!st)
                return 0;
        int64_t t = db_step(st) == DB_ROW ? db_column_int64(st, 0) : 0;
        db_reset(st);
        return t;
}

int dawn_store_first_ack(struct dawn_store *s, const char *alert_id, const char *subscriber, char *by, size_t by_size,
                         int64_t *at)
{
        struct db_stmt *st = stmt(s, ST_ESC_FIRST_ACK);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        bind_text(st, 2, subscriber);
        int rc = db_step(st);
        int r = rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : db_errno(rc);
        if (r == 1) {
                if (by)
                        column_copy(st, 0, by, by_size);
                if (at)
                        *at = db_column_int64(st, 1);
        }
        db_reset(st);
        return r;
}

int dawn_store_add_purpose_delivery(struct dawn_store *s, const char *alert_id, int revision, const char *subscriber,
                                    enum dawn_channel_kind channel, const char *recipient, const char *purpose,
                                    const char *about, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_ESC_ADD_DELIVERY);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        db_bind_int64(st, 2, revision);
        bind_text(st, 3, subscriber);
        bind_text(st, 4, dawn_channel_name(channel));
        bind_text(st, 5, recipient);
        db_bind_int64(st, 6, now);
        bind_text(st, 7, purpose);
        bind_text(st, 8, about);
        int r = run(s, st);
        note_insert(s, &s->tx_first.outbox, r);
        return r < 0 ? r : (int)db_changes(s->db) > 0;
}

static void add_time(cJSON *o, const char *key, struct db_stmt *st, int col)
{
        char when[40];
        if (!db_column_null(st, col) && db_column_int64(st, col))
                cJSON_AddStringToObject(o, key, dawn_time_format(db_column_int64(st, col), when, sizeof(when)));
}

/* The detail column as the JSON shows it: 'escalated' keeps a JSON array of ids. */
static void add_detail(cJSON *o, const char *state, struct db_stmt *st, int col)
{
        const char *detail = (const char *)db_column_text(st, col);
        if (!detail || !state)
                return;
        if (strcmp(state, "escalated") == 0) {
                cJSON *to = cJSON_Parse(detail);
                if (to)
                        cJSON_AddItemToObject(o, "to", to);
        } else if (strcmp(state, "acknowledged") == 0) {
                cJSON_AddStringToObject(o, "by", detail);
        } else {
                cJSON_AddStringToObject(o, "reason", detail);
        }
}

int dawn_store_escalations_json(struct dawn_store *s, const char *alert_id, cJSON *array)
{
        struct db_stmt *st = stmt(s, ST_ESC_LIST);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        int rc;
        while ((rc = db_step(st)) == DB_ROW) {
                cJSON *o = cJSON_CreateObject();
                const char *state = (const char *)db_column_text(st, 1);
                cJSON_AddStringToObject(o, "subscriber", (const char *)db_column_text(st, 0));
                cJSON_AddStringToObject(o, "state", state ? state : "");
                add_time(o, "started_at", st, 2);
                add_time(o, "due_at", st, 3);
                add_time(o, "decided_at", st, 4);
                add_detail(o, state, st, 5);
                cJSON_AddItemToArray(array, o);
        }
        db_reset(st);
        return rc == DB_DONE ? 0 : db_errno(rc);
}

int dawn_store_delivery_states(struct dawn_store *s, const char *alert_id, const char *subscriber,
                               int (*fn)(enum dawn_channel_kind channel, enum dawn_delivery_state state, void *ud),
                               void *userdata)
{
        struct db_stmt *st = stmt(s, ST_ESC_STATES);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        bind_text(st, 2, subscriber);
        int rc, r = 0;
        while (r == 0 && (rc = db_step(st)) == DB_ROW) {
                int channel = dawn_channel_from_name((const char *)db_column_text(st, 0));
                int state = dawn_delivery_state_from_name((const char *)db_column_text(st, 1));
                if (channel >= 0 && state >= 0)
                        r = fn((enum dawn_channel_kind)channel, (enum dawn_delivery_state)state, userdata);
        }
        db_reset(st);
        return r ? r : (rc == DB_DONE || rc == DB_ROW) ? 0 : db_errno(rc);
}

int dawn_store_unacked_json(struct dawn_store *s, int limit, cJSON *array)
{
        struct db_stmt *st = stmt(s, ST_ESC_UNACKED);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, limit);
        int rc, n = 0;
        while ((rc = db_step(st)) == DB_ROW) {
                cJSON *o = cJSON_CreateObject();
                const char *state = (const char *)db_column_text(st, 3);
                cJSON_AddStringToObject(o, "alert", (const char *)db_column_text(st, 0));
                cJSON_AddStringToObject(o, "grade", (const char *)db_column_text(st, 1));
                cJSON_AddStringToObject(o, "subscriber", (const char *)db_column_text(st, 2));
                cJSON_AddStringToObject(o, "escalation", state ? state : "none");
                if (state && strcmp(state, "waiting") == 0)
                        add_time(o, "due_at", st, 4);
                else
                        add_time(o, "decided_at", st, 5);
                add_detail(o, state, st, 6);
                cJSON_AddItemToArray(array, o);
                n++;
        }
        db_reset(st);
        return rc == DB_DONE ? n : db_errno(rc);
}

int64_t dawn_store_count_waiting_escalations(struct dawn_store *s)
{
        struct db_stmt *st = stmt(s, ST_ESC_COUNT_WAITING);
        if (!st)
                return -EIO;
        int rc = db_step(st);
        int64_t n = rc == DB_ROW ? db_column_int64(st, 0) : db_errno(rc);
        db_reset(st);
        return n;
}

int dawn_store_load_escalation(struct dawn_store *s, const char *alert_id, const char *subscriber,
                               int64_t *started_at, int64_t *decided_at)
{
        struct db_stmt *st = stmt(s, ST_ESC_LOAD);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        bind_text(st, 2, subscriber);
        int rc = db_step(st);
        int r = rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : db_errno(rc);
        if (r == 1) {
                *started_at = db_column_int64(st, 0);
                *decided_at = db_column_int64(st, 1);
        }
        db_reset(st);
        return r;
}

/* ---- tests ---- */

void dawn_store_fail_next_commit(struct dawn_store *s, int error)
{
        s->fail_next_commit = error;
}

void dawn_store_lose_next_commit(struct dawn_store *s, bool sent)
{
        if (s->db->ops->lose_next_commit)
                s->db->ops->lose_next_commit(s->db, sent);
}

void dawn_store_commit_outcome_abandon(struct dawn_store *s)
{
        memset(s->ended.unknown, 0, sizeof(s->ended.unknown));
        memset(s->alerts.unknown, 0, sizeof(s->alerts.unknown));
}

int dawn_store_commit_outcome(struct dawn_store *s)
{
        const struct db_ops *ops = s->db->ops;
        int r = ops->commit_outcome ? ops->commit_outcome(s->db) : -ENOENT;
        if (r == -EAGAIN)
                return r;
        if (r == 0) {
                FOLD(s->ended.committed, s->ended.unknown);
                FOLD(s->alerts.committed, s->alerts.unknown);
        } else {
                memset(s->ended.unknown, 0, sizeof(s->ended.unknown));
                memset(s->alerts.unknown, 0, sizeof(s->alerts.unknown));
        }
        return r;
}

int dawn_store_limit_growth(struct dawn_store *s, int pages)
{
        const struct db_ops *ops = s->db->ops;
        return ops->limit_growth ? ops->limit_growth(s->db, pages) : -EOPNOTSUPP;
}

/* ---- retention (UK GDPR storage limitation) ----
 *
 * An alert that ended (cancelled or expired) longer ago than
 * retention.deliveries loses its delivery details: the outbox rows, which
 * hold every recipient's number, address or topic, go; what the panel needs
 * stays: per channel, purpose and state how many there were
 * (delivery_totals), and how long each that reached its peer took
 * (delivery_times, no recipient). Who acknowledged goes too (by becomes
 * "(removed)"); that the subscriber did, and when, stays. Numbers that
 * replied STOP (sms_optouts) are never pruned: an opt-out is honoured for
 * ever. A batch of alerts at a time, in the caller's write. */

void dawn_prune_counts_add(struct dawn_prune_counts *sum, const struct dawn_prune_counts *step)
{
        sum->alerts += step->alerts;
        sum->deliveries += step->deliveries;
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++)
                sum->by_channel[k] += step->by_channel[k];
        sum->audit_rows += step->audit_rows;
        sum->join_rows += step->join_rows;
        sum->reply_rows += step->reply_rows;
        sum->more = step->more;
}

static void count_channel(struct dawn_prune_counts *c, const char *channel, int64_t n)
{
        int k = channel ? dawn_channel_from_name((const char *)channel) : -1;
        if (k >= 0)
                c->by_channel[k] += n;
        c->deliveries += n;
}

int dawn_store_prune_preview(struct dawn_store *s, int64_t ended_before, int max_ids, cJSON *ids,
                             struct dawn_prune_counts *out)
{
        memset(out, 0, sizeof(*out));
        struct db_stmt *st = stmt(s, ST_PRUNE_PREVIEW_ALERTS);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, ended_before);
        int rc = db_step(st);
        if (rc == DB_ROW)
                out->alerts = db_column_int64(st, 0);
        db_reset(st);
        if (rc != DB_ROW)
                return db_errno(rc);
        if ((st = stmt(s, ST_PRUNE_PREVIEW_DELIVERIES)) == NULL)
                return -EIO;
        db_bind_int64(st, 1, ended_before);
        while ((rc = db_step(st)) == DB_ROW)
                count_channel(out, db_column_text(st, 0), db_column_int64(st, 1));
        db_reset(st);
        if (rc != DB_DONE)
                return db_errno(rc);
        if (!ids || max_ids <= 0)
                return 0;
        if ((st = stmt(s, ST_PRUNE_BATCH)) == NULL)
                return -EIO;
        db_bind_int64(st, 1, ended_before);
        db_bind_int64(st, 2, max_ids);
        while ((rc = db_step(st)) == DB_ROW)
                cJSON_AddItemToArray(ids, cJSON_CreateString((const char *)db_column_text(st, 0)));
        db_reset(st);
        out->more = out->alerts > max_ids;
        return rc == DB_DONE ? 0 : db_errno(rc);
}

/* Runs one of the batch statements that take the ids (?1) and maybe one more value (?2). */
static int prune_run(struct dawn_store *s, enum stmt_id id, const char *ids_json, int64_t v2)
{
        struct db_stmt *st = stmt(s, id);
        if (!st)
                return -EIO;
        bind_text(st, 1, ids_json);
        if (id == ST_PRUNE_MARK)
                db_bind_int64(st, 2, v2);
        if (id != ST_PRUNE_OUTBOX)
                return run(s, st);
        /* the deliveries that go leave the counts, as they left the GROUP BY over the
         * outbox that status showed before (delivery_totals keeps them per alert) */
        int rc;
        while ((rc = db_step(st)) == DB_ROW)
                ended_note(s, dawn_channel_from_name((const char *)db_column_text(st, 0)),
                           dawn_delivery_state_from_name((const char *)db_column_text(st, 1)), -1);
        db_reset(st);
        return rc == DB_DONE ? 0 : db_errno(rc);
}

/* One audit row per alert: how many deliveries on which channels lost their details. */
static int prune_audit_alerts(struct dawn_store *s, const char *ids_json, const char *actor, int64_t now,
                              struct dawn_prune_counts *out)
{
        struct db_stmt *st = stmt(s, ST_PRUNE_COUNT);
        if (!st)
                return -EIO;
        bind_text(st, 1, ids_json);
        /* collected first: the audit insert is a statement of its own */
        struct { char id[DAWN_MAX_ID_CHARS + 1]; char detail[160]; size_t len; int64_t n; } rows[DAWN_PRUNE_BATCH_MAX];
        int n = 0, rc;
        while ((rc = db_step(st)) == DB_ROW) {
                const char *id = (const char *)db_column_text(st, 0);
                const char *channel = (const char *)db_column_text(st, 1);
                int64_t k = db_column_int64(st, 2);
                count_channel(out, (const char *)channel, k);
                if (!id || !channel)
                        continue;
                if (n == 0 || strcmp(rows[n - 1].id, id) != 0) {
                        if (n == DAWN_PRUNE_BATCH_MAX)
                                break; /* never: the batch is at most that many alerts */
                        snprintf(rows[n].id, sizeof(rows[n].id), "%s", id);
                        rows[n].len = 0;
                        rows[n].n = 0;
                        n++;
                }
                size_t len = rows[n - 1].len, room = sizeof(rows[0].detail);
                if (len < room)
                        rows[n - 1].len += (size_t)snprintf(rows[n - 1].detail + len, room - len, "%s%s %lld",
                                                            len ? ", " : "", channel, (long long)k);
                rows[n - 1].n += k;
        }
        db_reset(st);
        if (rc != DB_DONE && rc != DB_ROW)
                return db_errno(rc);
        /* the alerts without any delivery are in the batch too, and get their row below */
        cJSON *arr = cJSON_Parse(ids_json);
        const cJSON *item;
        int r = arr ? 0 : -ENOMEM;
        cJSON_ArrayForEach(item, arr) {
                if (r < 0 || !cJSON_IsString(item))
                        break;
                char detail[300];
                snprintf(detail, sizeof(detail), "delivery details removed (retention): 0 deliveries");
                for (int i = 0; i < n; i++)
                        if (strcmp(rows[i].id, item->valuestring) == 0)
                                snprintf(detail, sizeof(detail),
                                         "delivery details removed (retention): %lld deliveries (%s); "
                                         "counts per channel and state kept",
                                         (long long)rows[i].n, rows[i].detail);
                r = dawn_store_audit(s, actor, "prune", item->valuestring, detail, now);
        }
        cJSON_Delete(arr);
        return r;
}

int dawn_store_prune_step(struct dawn_store *s, int64_t ended_before, int max_alerts, const char *actor,
                          int64_t now, struct dawn_prune_counts *out)
{
        memset(out, 0, sizeof(*out));
        if (max_alerts <= 0 || max_alerts > DAWN_PRUNE_BATCH_MAX)
                max_alerts = DAWN_PRUNE_BATCH_MAX;
        struct db_stmt *st = stmt(s, ST_PRUNE_BATCH);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, ended_before);
        db_bind_int64(st, 2, max_alerts);
        cJSON *ids = cJSON_CreateArray();
        int rc;
        int64_t rows = 0;
        bool full = false;
        while (ids && (rc = db_step(st)) == DB_ROW) {
                /* and at most so many deliveries, but always one alert, however many it has */
                int64_t n = db_column_int64(st, 1);
                if (rows > 0 && rows + n > DAWN_PRUNE_DELIVERIES_MAX) {
                        full = true;
                        rc = DB_DONE;
                        break;
                }
                rows += n;
                cJSON_AddItemToArray(ids, cJSON_CreateString((const char *)db_column_text(st, 0)));
        }
        db_reset(st);
        if (!ids)
                return -ENOMEM;
        if (rc != DB_DONE) {
                cJSON_Delete(ids);
                return db_errno(rc);
        }
        out->alerts = cJSON_GetArraySize(ids);
        char *ids_json = cJSON_PrintUnformatted(ids);
        cJSON_Delete(ids);
        if (!ids_json)
                return -ENOMEM;
        int r = 0;
        if (out->alerts > 0) {
                /* the counts and the audit rows first: they read the rows about to go */
                r = prune_audit_alerts(s, ids_json, actor, now, out);
                static const enum stmt_id steps[] = { ST_PRUNE_TOTALS, ST_PRUNE_TIMES, ST_PRUNE_OUTBOX,
                                                      ST_PRUNE_ACKS_MASK, ST_PRUNE_ACKS_DROP,
                                                      ST_PRUNE_ESCALATIONS, ST_PRUNE_MARK };
                for (size_t i = 0; r == 0 && i < sizeof(steps) / sizeof(steps[0]); i++)
                        r = prune_run(s, steps[i], ids_json, now);
        }
        free(ids_json);
        /* numbers in the audit trail past the same period, a bounded number per step */
        if (r == 0 && (st = stmt(s, ST_PRUNE_AUDIT))) {
                db_bind_int64(st, 1, ended_before);
                db_bind_int64(st, 2, DAWN_PRUNE_ROWS_MAX);
                r = run(s, st);
                out->audit_rows = r == 0 ? (int)db_changes(s->db) : 0;
        } else if (r == 0) {
                r = -EIO;
        }
        /* the JOIN cap's day counts (day: days since the epoch, UTC) older than yesterday */
        if (r == 0 && (st = stmt(s, ST_PRUNE_JOINS))) {
                int64_t today = now / (INT64_C(86400) * 1000000);
                db_bind_int64(st, 1, today - 1);
                db_bind_int64(st, 2, DAWN_PRUNE_ROWS_MAX);
                r = run(s, st);
                out->join_rows = r == 0 ? (int)db_changes(s->db) : 0;
        } else if (r == 0) {
                r = -EIO;
        }
        /* SMS replies that ended before the same period, with their numbers */
        if (r == 0 && (st = stmt(s, ST_REPLY_PRUNE))) {
                db_bind_int64(st, 1, ended_before);
                db_bind_int64(st, 2, DAWN_PRUNE_ROWS_MAX);
                r = run(s, st);
                out->reply_rows = r == 0 ? (int)db_changes(s->db) : 0;
        } else if (r == 0) {
                r = -EIO;
        }
        out->more = full || out->alerts == max_alerts || out->audit_rows == DAWN_PRUNE_ROWS_MAX ||
                    out->join_rows == DAWN_PRUNE_ROWS_MAX || out->reply_rows == DAWN_PRUNE_ROWS_MAX;
        return r;
}

int dawn_store_delivery_totals_json(struct dawn_store *s, const char *alert_id, cJSON *object)
{
        struct db_stmt *st = stmt(s, ST_DELIVERY_TOTALS);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        int rc;
        while ((rc = db_step(st)) == DB_ROW) {
                const char *channel = (const char *)db_column_text(st, 0);
                const char *state = (const char *)db_column_text(st, 1);
                if (!channel || !state)
                        continue;
                cJSON *c = cJSON_GetObjectItemCaseSensitive(object, channel);
                if (!c)
                        c = cJSON_AddObjectToObject(object, channel);
                cJSON_AddNumberToObject(c, state, (double)db_column_int64(st, 2));
        }
        db_reset(st);
        return rc == DB_DONE ? 0 : db_errno(rc);
}

/* ---- public text subscriptions (issue 13 part 2) ---- */

int dawn_store_public_join(struct dawn_store *s, const char *number, const char *area, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_PUBLIC_JOIN);
        if (!st)
                return -EIO;
        bind_text(st, 1, number);
        bind_text(st, 2, area);
        db_bind_int64(st, 3, now);
        int r = run(s, st);
        return r < 0 ? r : (int)db_changes(s->db) > 0;
}

int dawn_store_public_member(struct dawn_store *s, const char *number)
{
        struct db_stmt *st = stmt(s, ST_PUBLIC_MEMBER);
        if (!st)
                return -EIO;
        bind_text(st, 1, number);
        int rc = db_step(st);
        db_reset(st);
        return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : db_errno(rc);
}

int64_t dawn_store_public_numbers(struct dawn_store *s)
{
        struct db_stmt *st = stmt(s, ST_PUBLIC_NUMBERS);
        if (!st)
                return -EIO;
        int rc = db_step(st);
        int64_t n = rc == DB_ROW ? db_column_int64(st, 0) : db_errno(rc);
        db_reset(st);
        return n;
}

int dawn_store_public_leave(struct dawn_store *s, const char *number, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_PUBLIC_LEAVE);
        if (!st)
                return -EIO;
        bind_text(st, 1, number);
        int r = run(s, st);
        if (r < 0)
                return r;
        int left = (int)db_changes(s->db);
        if (!(st = stmt(s, ST_PUBLIC_HOLD_WAITING)))
                return -EIO;
        bind_text(st, 1, number);
        db_bind_int64(st, 2, now);
        r = run(s, st);
        if (r == 0) /* sms, from waiting */
                ended_note(s, DAWN_CHANNEL_SMS, DAWN_DELIVERY_OPTED_OUT, (int)db_changes(s->db));
        return r < 0 ? r : left;
}

int dawn_store_erase_public_number(struct dawn_store *s, const char *number)
{
        int r = 0;
        for (int id = ST_ERASE_JOINS; r == 0 && id <= ST_ERASE_REPLIES; id++) {
                struct db_stmt *st = stmt(s, id);
                if (!st)
                        return -EIO;
                bind_text(st, 1, number);
                r = run(s, st);
        }
        return r;
}

/* ---- channel pauses (issue 14) ---- */

int dawn_store_credit_pause(struct dawn_store *s, enum dawn_channel_kind channel, int64_t from, int64_t to)
{
        if (to <= from)
                return 0;
        struct db_stmt *st = stmt(s, ST_CREDIT_PAUSE);
        if (!st)
                return -EIO;
        bind_text(st, 1, dawn_channel_name(channel));
        db_bind_int64(st, 2, from);
        db_bind_int64(st, 3, to);
        int r = run(s, st);
        return r < 0 ? r : (int)db_changes(s->db);
}

int dawn_store_public_prune_joins(struct dawn_store *s, int64_t day)
{
        struct db_stmt *st = stmt(s, ST_PUBLIC_JOINS_PRUNE);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, day);
        return run(s, st);
}

int dawn_store_public_note_join(struct dawn_store *s, const char *number, int64_t day)
{
        struct db_stmt *st = stmt(s, ST_PUBLIC_JOINS_NOTE);
        if (!st)
                return -EIO;
        bind_text(st, 1, number);
        db_bind_int64(st, 2, day);
        int rc = db_step(st);
        int n = rc == DB_ROW ? db_column_int(st, 0) : 0;
        if (rc == DB_ROW)
                rc = db_step(st);
        db_reset(st);
        return rc == DB_DONE ? n : db_errno(rc);
}

int dawn_store_public_counts_json(struct dawn_store *s, cJSON *array)
{
        struct db_stmt *st = stmt(s, ST_PUBLIC_COUNTS);
        if (!st)
                return -EIO;
        int rc;
        while ((rc = db_step(st)) == DB_ROW) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "area", (const char *)db_column_text(st, 0));
                cJSON_AddNumberToObject(o, "subscribers", (double)db_column_int64(st, 1));
                cJSON_AddItemToArray(array, o);
        }
        db_reset(st);
        return rc == DB_DONE ? 0 : db_errno(rc);
}

int64_t dawn_store_pruned_at(struct dawn_store *s, const char *alert_id)
{
        struct db_stmt *st = stmt(s, ST_PRUNED_AT);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        int rc = db_step(st);
        int64_t r = rc == DB_ROW ? db_column_int64(st, 0) : rc == DB_DONE ? 0 : db_errno(rc);
        db_reset(st);
        return r;
}

/* Collects first, then calls fn: fn writes the outbox, and a statement is
 * not stepped while its own kind is being reused. */
static int for_each_number(struct dawn_store *s, struct db_stmt *st, dawn_public_number_fn fn, void *userdata)
{
        char **v = NULL;
        size_t n = 0;
        int rc, r = 0;
        while ((rc = db_step(st)) == DB_ROW) {
                void *grown = realloc(v, (n + 1) * sizeof(*v));
                if (!grown || !(((char **)grown)[n] = column_strdup(st, 0))) {
                        v = grown ? grown : v;
                        r = -ENOMEM;
                        break;
                }
                v = grown;
                n++;
        }
        if (r == 0 && rc != DB_DONE)
                r = db_errno(rc);
        db_reset(st);
        (void)s;
        for (size_t i = 0; i < n; i++) {
                if (r == 0)
                        r = fn(v[i], userdata);
                free(v[i]);
        }
        free(v);
        return r;
}

int dawn_store_for_each_public_number(struct dawn_store *s, const char *area, dawn_public_number_fn fn,
                                      void *userdata)
{
        struct db_stmt *st = stmt(s, ST_PUBLIC_IN_AREA);
        if (!st)
                return -EIO;
        bind_text(st, 1, area);
        return for_each_number(s, st, fn, userdata);
}

int dawn_store_for_each_public_reached(struct dawn_store *s, const char *alert_id, dawn_public_number_fn fn,
                                       void *userdata)
{
        struct db_stmt *st = stmt(s, ST_PUBLIC_REACHED);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        return for_each_number(s, st, fn, userdata);
}

int dawn_store_for_each_public_told(struct dawn_store *s, const char *alert_id, int since_revision,
                                     dawn_public_number_fn fn, void *userdata)
{
        struct db_stmt *st = stmt(s, ST_PUBLIC_TOLD);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        db_bind_int64(st, 2, since_revision);
        return for_each_number(s, st, fn, userdata);
}

int dawn_store_add_public_delivery(struct dawn_store *s, const char *alert_id, int revision, const char *number,
                                   enum dawn_delivery_action action, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_PUBLIC_ADD_DELIVERY);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        db_bind_int64(st, 2, revision);
        bind_text(st, 3, number);
        bind_text(st, 4, dawn_action_name(action));
        db_bind_int64(st, 5, now);
        int r = run(s, st);
        note_insert(s, &s->tx_first.outbox, r);
        return r;
}

/* ---- CAP 1.2 (issue 14): the revisions recipients saw ---- */

int dawn_store_cap_revisions(struct dawn_store *s, const char *alert_id, int at_most, char *json[2])
{
        struct db_stmt *st = stmt(s, ST_CAP_PUBLISHED);
        json[0] = json[1] = NULL;
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        db_bind_int64(st, 2, at_most);
        db_bind_int64(st, 3, DAWN_PROPOSAL_REVISION_BASE);
        int n = 0, rc;
        while (n < 2 && (rc = db_step(st)) == DB_ROW) {
                if (!(json[n] = column_strdup(st, 0))) {
                        n = -ENOMEM;
                        break;
                }
                n++;
        }
        if (n >= 0 && n < 2 && rc != DB_DONE)
                n = db_errno(rc);
        db_reset(st);
        if (n < 0) {
                free(json[0]);
                free(json[1]);
                json[0] = json[1] = NULL;
        }
        return n;
}

/* ---- the panel's summary ---- */

/* Steps a summary statement over [since, until), at most
 * DAWN_SUMMARY_MAX_ROWS rows: the first ntext columns as text, the rest
 * (up to 2) as numbers (NULL: absent). */
static int summary_rows(struct dawn_store *s, enum stmt_id id, int64_t since, int64_t until, int ntext,
                        dawn_summary_fn fn, void *userdata, bool *capped)
{
        struct db_stmt *st = stmt(s, id);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, since);
        db_bind_int64(st, 2, until);
        db_bind_int64(st, 3, DAWN_SUMMARY_MAX_ROWS + 1);
        int rc, r = 0;
        size_t n = 0;
        int ncol = db_column_count(st);
        while (r == 0 && (rc = db_step(st)) == DB_ROW) {
                if (++n > DAWN_SUMMARY_MAX_ROWS) {
                        if (capped)
                                *capped = true;
                        rc = DB_DONE;
                        break;
                }
                struct dawn_summary_row row = { 0 };
                for (int i = 0; i < ntext && i < 3; i++) {
                        const char *t = db_column_text(st, i);
                        row.text[i] = t ? (const char *)t : "";
                }
                for (int i = ntext; i < ncol && i - ntext < 2; i++) {
                        row.has_num[i - ntext] = !db_column_null(st, i);
                        row.num[i - ntext] = db_column_int64(st, i);
                }
                r = fn(&row, userdata);
        }
        db_reset(st);
        if (r < 0)
                return r;
        return rc == DB_DONE ? 0 : db_errno(rc);
}

int dawn_store_summary_alerts(struct dawn_store *s, int64_t since, int64_t until, dawn_summary_fn fn,
                              void *userdata, bool *capped)
{
        return summary_rows(s, ST_SUMMARY_ALERTS, since, until, 3, fn, userdata, capped);
}

int dawn_store_summary_deliveries(struct dawn_store *s, int64_t since, int64_t until, dawn_summary_fn fn,
                                  void *userdata, bool *capped)
{
        return summary_rows(s, ST_SUMMARY_DELIVERIES, since, until, 2, fn, userdata, capped);
}

int dawn_store_summary_delivery_times(struct dawn_store *s, int64_t since, int64_t until, dawn_summary_fn fn,
                                      void *userdata, bool *capped)
{
        return summary_rows(s, ST_SUMMARY_DELIVERY_TIMES, since, until, 1, fn, userdata, capped);
}

int dawn_store_summary_acks(struct dawn_store *s, int64_t since, int64_t until, dawn_summary_fn fn,
                            void *userdata, bool *capped)
{
        return summary_rows(s, ST_SUMMARY_ACKS, since, until, 1, fn, userdata, capped);
}

int dawn_store_summary_escalations(struct dawn_store *s, int64_t since, int64_t until, dawn_summary_fn fn,
                                   void *userdata, bool *capped)
{
        return summary_rows(s, ST_SUMMARY_ESCALATIONS, since, until, 1, fn, userdata, capped);
}

int dawn_store_summary_people(struct dawn_store *s, int64_t since, int64_t until, struct dawn_summary_people *out)
{
        struct db_stmt *st = stmt(s, ST_SUMMARY_PEOPLE);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, since);
        db_bind_int64(st, 2, until);
        int rc = db_step(st);
        if (rc == DB_ROW) {
                out->optouts = db_column_int64(st, 0);
                out->optouts_in_window = db_column_int64(st, 1);
                out->public_numbers = db_column_int64(st, 2);
                out->public_subscriptions = db_column_int64(st, 3);
                out->public_joined_in_window = db_column_int64(st, 4);
        }
        db_reset(st);
        return rc == DB_ROW ? 0 : (rc == DB_DONE ? -EIO : db_errno(rc));
}

int64_t dawn_store_oldest_waiting(struct dawn_store *s, enum dawn_channel_kind channel)
{
        struct db_stmt *st = stmt(s, ST_OLDEST_WAITING);
        if (!st)
                return -EIO;
        bind_text(st, 1, dawn_channel_name(channel));
        int rc = db_step(st);
        int64_t t = rc == DB_ROW ? db_column_int64(st, 0) : rc == DB_DONE ? 0 : db_errno(rc);
        db_reset(st);
        return t;
}
/* ---- SMS replies (issue 13: replies to Notify inbound texts) ---- */

int64_t dawn_store_reply_add(struct dawn_store *s, const char *number, const char *body, bool stop, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_REPLY_ADD);
        if (!st)
                return -EIO;
        bind_text(st, 1, number);
        bind_text(st, 2, body);
        bind_text(st, 3, stop ? "stop" : "reply");
        db_bind_int64(st, 4, now);
        int r = run(s, st);
        note_insert(s, &s->tx_first.reply, r);
        return r < 0 ? r : db_last_insert_id(s->db);
}

static int64_t count_one(struct dawn_store *s, struct db_stmt *st)
{
        int rc = db_step(st);
        int64_t n = rc == DB_ROW ? db_column_int64(st, 0) : db_errno(rc);
        db_reset(st);
        return n;
}

int64_t dawn_store_replies_since(struct dawn_store *s, const char *number, int64_t since)
{
        struct db_stmt *st = stmt(s, ST_REPLY_RECENT);
        if (!st)
                return -EIO;
        bind_text(st, 1, number);
        db_bind_int64(st, 2, since);
        return count_one(s, st);
}

int64_t dawn_store_replies_waiting(struct dawn_store *s)
{
        struct db_stmt *st = stmt(s, ST_REPLY_WAITING);
        return st ? count_one(s, st) : -EIO;
}

static void reply_row_read(struct db_stmt *st, struct dawn_reply_row *r)
{
        memset(r, 0, sizeof(*r));
        r->id = db_column_int64(st, 0);
        column_copy(st, 1, r->number, sizeof(r->number));
        column_copy(st, 2, r->body, sizeof(r->body));
        const char *kind = (const char *)db_column_text(st, 3);
        r->stop = kind && strcmp(kind, "stop") == 0;
        int state = dawn_delivery_state_from_name((const char *)db_column_text(st, 4));
        r->state = state < 0 ? DAWN_DELIVERY_FAILED : (enum dawn_delivery_state)state;
        r->attempts = db_column_int(st, 5);
        r->created_at = db_column_int64(st, 6);
        r->opted_out = db_column_int(st, 7) != 0;
}

int dawn_store_due_replies(struct dawn_store *s, int64_t now, struct dawn_reply_row *rows, int limit)
{
        struct db_stmt *st = stmt(s, ST_REPLY_DUE);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, now);
        db_bind_int64(st, 2, limit);
        db_bind_int64(st, 3, below(s->tx_first.reply));
        int n = 0, rc = DB_DONE;
        while (n < limit && (rc = db_step(st)) == DB_ROW)
                reply_row_read(st, &rows[n++]);
        db_reset(st);
        return rc == DB_ROW || rc == DB_DONE ? n : db_errno(rc);
}

int64_t dawn_store_replies_next_due(struct dawn_store *s)
{
        struct db_stmt *st = stmt(s, ST_REPLY_NEXT_DUE);
        if (!st)
                return 0;
        int64_t t = db_step(st) == DB_ROW && !db_column_null(st, 0)
                            ? db_column_int64(st, 0)
                            : 0;
        db_reset(st);
        return t;
}

int dawn_store_load_reply(struct dawn_store *s, int64_t id, struct dawn_reply_row *row)
{
        struct db_stmt *st = stmt(s, ST_REPLY_LOAD);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, id);
        int rc = db_step(st);
        if (rc == DB_ROW)
                reply_row_read(st, row);
        db_reset(st);
        return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : db_errno(rc);
}

static int reply_move(struct dawn_store *s, enum stmt_id id_of_stmt, int64_t id, enum dawn_delivery_state from,
                      enum dawn_delivery_state to, const char *error, int64_t next_at, int64_t now);

int dawn_store_reply_move(struct dawn_store *s, int64_t id, enum dawn_delivery_state from,
                          enum dawn_delivery_state to, const char *error, int64_t next_at, int64_t now)
{
        return reply_move(s, ST_REPLY_MOVE, id, from, to, error, next_at, now);
}

int dawn_store_reply_receipt_move(struct dawn_store *s, int64_t id, enum dawn_delivery_state from,
                                  enum dawn_delivery_state to, const char *error, int64_t next_at, int64_t now)
{
        return reply_move(s, ST_REPLY_RECEIPT_MOVE, id, from, to, error, next_at, now);
}

static int reply_move(struct dawn_store *s, enum stmt_id id_of_stmt, int64_t id, enum dawn_delivery_state from,
                      enum dawn_delivery_state to, const char *error, int64_t next_at, int64_t now)
{
        struct db_stmt *st = stmt(s, id_of_stmt);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, id);
        bind_text(st, 2, dawn_delivery_state_name(from));
        bind_text(st, 3, dawn_delivery_state_name(to));
        bind_text(st, 4, error);
        db_bind_int64(st, 5, next_at);
        db_bind_int64(st, 6, now);
        bind_text(st, 7, s->node);
        db_bind_int64(st, 8, s->lease_usec);
        int r = run(s, st);
        return r < 0 ? r : (int)db_changes(s->db);
}

int dawn_store_replies_fail_expired(struct dawn_store *s, int64_t created_before, const char *reason, int64_t now)
{
        struct db_stmt *st = stmt(s, ST_REPLY_FAIL_EXPIRED);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, created_before);
        bind_text(st, 2, reason);
        db_bind_int64(st, 3, now);
        int r = run(s, st);
        return r < 0 ? r : (int)db_changes(s->db);
}

/* ---- retention, the files (issue 13 review) ---- */

int dawn_store_checkpoint_truncate(struct dawn_store *s)
{
        const struct db_ops *ops = s->db->ops;
        return ops->checkpoint_truncate ? ops->checkpoint_truncate(s->db) : 0;
}

int dawn_store_checkpoint_in_background(struct dawn_store *s, const char *path)
{
        const struct db_ops *ops = s->db->ops;
        return ops->checkpoint_in_background ? ops->checkpoint_in_background(s->db, path) : 0;
}

/* ---- acks from a shared number (issue 13 review) ---- */

int dawn_store_for_each_reached_by_text(struct dawn_store *s, const char *alert_id, const char *number, int max,
                                        dawn_reached_fn fn, void *userdata)
{
        struct db_stmt *st = stmt(s, ST_REACHED_ALL);
        if (!st)
                return -EIO;
        bind_text(st, 1, alert_id);
        bind_text(st, 2, number);
        db_bind_int64(st, 3, max);
        /* copied out first: fn writes (acks, escalations) while the statement is open otherwise */
        struct { char sub[DAWN_MAX_SUBSCRIBER_CHARS + 1]; int revision; } *rows = calloc((size_t)max, sizeof(*rows));
        if (!rows) {
                db_reset(st);
                return -ENOMEM;
        }
        int n = 0, rc = DB_DONE;
        while (n < max && (rc = db_step(st)) == DB_ROW) {
                column_copy(st, 0, rows[n].sub, sizeof(rows[n].sub));
                rows[n].revision = db_column_int(st, 1);
                n++;
        }
        int r = n < max && rc != DB_DONE ? db_errno(rc) : 0;
        db_reset(st);
        for (int i = 0; r >= 0 && i < n; i++)
                r = fn(rows[i].sub, rows[i].revision, userdata);
        free(rows);
        return r < 0 ? r : n;
}

/* ---- several nodes (issue 15) ---- */

int dawn_store_node_heartbeat(struct dawn_store *s, const char *version, bool starting, int64_t now,
                              const int64_t *in_flight, size_t n)
{
        struct db_stmt *st = stmt(s, ST_NODE_BEAT);
        if (!st)
                return -EIO;
        bind_text(st, 1, s->node);
        db_bind_int64(st, 2, now);
        bind_text(st, 3, version);
        if (starting)
                db_bind_int64(st, 4, now);
        int r = run(s, st);
        if (r < 0 || s->db->ops->dialect != DB_DIALECT_POSTGRESQL || n == 0)
                return r;
        /* alive: what this node has in flight stays its own for another lease: the
         * outbox's rows (ids > 0), then the SMS replies (ids < 0, negated) */
        char *ids = malloc(n * 21 + 3);
        if (!ids)
                return -ENOMEM;
        for (int replies = 0; r >= 0 && replies <= 1; replies++) {
                size_t used = 0, k = 0;
                ids[used++] = '{';
                for (size_t i = 0; i < n; i++)
                        if (replies ? in_flight[i] < 0 : in_flight[i] > 0)
                                used += (size_t)sprintf(ids + used, "%s%lld", k++ ? "," : "",
                                                        (long long)(replies ? -in_flight[i] : in_flight[i]));
                ids[used++] = '}';
                ids[used] = '\0';
                if (k == 0)
                        continue;
                if ((st = stmt(s, replies ? ST_REPLY_LEASE_EXTEND : ST_LEASE_EXTEND))) {
                        bind_text(st, 1, s->node);
                        db_bind_int64(st, 2, s->lease_usec);
                        bind_text(st, 3, ids);
                        r = run(s, st);
                } else {
                        r = -EIO;
                }
        }
        free(ids);
        return r;
}

int dawn_store_lock_area(struct dawn_store *s, const char *area)
{
        /* SQLite: one dawnd, one connection, one writer: nobody to wait for */
        if (s->db->ops->dialect != DB_DIALECT_POSTGRESQL)
                return 0;
        struct db_stmt *st = stmt(s, ST_LOCK_AREA);
        if (!st)
                return -EIO;
        bind_text(st, 1, area ? area : "");
        int rc = db_step(st);
        db_reset(st);
        return rc == DB_ROW ? 0 : rc < 0 ? rc : -EIO;
}

int dawn_store_take_tokens(struct dawn_store *s, enum dawn_channel_kind channel, int want, double capacity,
                           double per_usec)
{
        if (s->db->ops->dialect != DB_DIALECT_POSTGRESQL)
                return -EOPNOTSUPP;
        struct db_stmt *st = stmt(s, ST_TAKE_TOKENS);
        if (!st)
                return -EIO;
        char cap[32], rate[32];
        snprintf(cap, sizeof(cap), "%.17g", capacity);
        snprintf(rate, sizeof(rate), "%.17g", per_usec);
        bind_text(st, 1, dawn_channel_name(channel));
        bind_text(st, 2, cap);
        bind_text(st, 3, rate);
        db_bind_int64(st, 4, want);
        int rc = db_step(st);
        int granted = rc == DB_ROW ? (int)db_column_int64(st, 0) : rc == DB_DONE ? -ENOENT : rc;
        db_reset(st);
        if (granted != -ENOENT)
                return granted;
        /* no row: locked by another node now, or never made (then made, and taken from) */
        if (!(st = stmt(s, ST_ADD_BUCKET)))
                return -EIO;
        bind_text(st, 1, dawn_channel_name(channel));
        bind_text(st, 2, cap);
        int r = run(s, st);
        if (r < 0 || db_changes(s->db) == 0)
                return r < 0 ? r : 0;
        return dawn_store_take_tokens(s, channel, want, capacity, per_usec);
}

bool dawn_store_shared(const struct dawn_store *s)
{
        return s->db->ops->dialect == DB_DIALECT_POSTGRESQL;
}

int dawn_store_try_job(struct dawn_store *s, enum dawn_store_job job)
{
        if (s->db->ops->dialect != DB_DIALECT_POSTGRESQL)
                return 1;
        struct db_stmt *st = stmt(s, ST_TRY_JOB);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, job);
        int rc = db_step(st);
        int held = rc == DB_ROW ? (int)db_column_int64(st, 0) : rc < 0 ? rc : -EIO;
        db_reset(st);
        return held;
}

int dawn_store_reclaim_expired(struct dawn_store *s, int64_t now)
{
        if (s->db->ops->dialect != DB_DIALECT_POSTGRESQL)
                return 0;
        struct db_stmt *st = stmt(s, ST_RECLAIM);
        if (!st)
                return -EIO;
        db_bind_int64(st, 1, now);
        int r = run(s, st);
        if (r < 0)
                return r;
        int n = (int)db_changes(s->db);
        if (!(st = stmt(s, ST_REPLY_RECLAIM)))
                return -EIO;
        db_bind_int64(st, 1, now);
        r = run(s, st);
        return r < 0 ? r : n + (int)db_changes(s->db);
}

int dawn_store_nodes_json(struct dawn_store *s, int64_t now, cJSON *array)
{
        struct db_stmt *st = stmt(s, ST_NODES);
        if (!st)
                return -EIO;
        int rc, n = 0;
        while ((rc = db_step(st)) == DB_ROW && n < DAWN_STORE_NODES_MAX) {
                cJSON *o = cJSON_CreateObject();
                const char *id = db_column_text(st, 0);
                cJSON_AddStringToObject(o, "node", id ? id : "");
                cJSON_AddBoolToObject(o, "this", id && strcmp(id, s->node) == 0);
                char when[32];
                cJSON_AddStringToObject(o, "started_at", dawn_time_format(db_column_int64(st, 1), when, sizeof(when)));
                int64_t beat = db_column_int64(st, 2);
                cJSON_AddStringToObject(o, "heartbeat_at", dawn_time_format(beat, when, sizeof(when)));
                cJSON_AddNumberToObject(o, "heartbeat_age_seconds", (double)((now - beat) / 1000000));
                const char *version = db_column_text(st, 3);
                cJSON_AddStringToObject(o, "version", version ? version : "");
                cJSON_AddNumberToObject(o, "in_flight", (double)db_column_int64(st, 4));
                cJSON_AddItemToArray(array, o);
                n++;
        }
        db_reset(st);
        return rc == DB_ROW || rc == DB_DONE ? n : db_errno(rc);
}

int64_t dawn_store_lease_usec(const struct dawn_store *s)
{
        return s->lease_usec;
}

int dawn_store_last_error(struct dawn_store *s)
{
        return db_last_error(s->db);
}
