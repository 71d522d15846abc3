/* What dawnd and dawnctl share: enums, limits and the control protocol.
 *
 * The control protocol is newline-delimited JSON over a Unix stream socket.
 * One request object per line, one response object per line, in order.
 *
 *   request:  {"cmd": "<command>", ...arguments}
 *   response: {"ok": true, ...result}
 *             {"ok": false, "error": "<sentence>", "field": "<name>",
 *              "temporary": true|false}
 *
 * Commands and their arguments (see docs in README.md, "Control protocol"):
 *   issue    {"alert": {...}}                  -> {"alert": {...}}
 *   update   {"id": "A1", "alert": {...}}      -> {"alert": {...}}
 *   cancel   {"id": "A1", "reason": "..."}     -> {"alert": {...}}
 *   list     {"all": false}                    -> {"alerts": [...]}
 *   show     {"id": "A1"}                      -> {"alert": {..., "deliveries": [...],
 *                                                  "corroborations": [...], "acks": [...]}}
 *   pending  {}                                -> {"pending": [...]}  the review queue: alerts with
 *                                                  status pending ("kind": "alert") and proposed
 *                                                  grade rises of active alerts ("kind": "proposal",
 *                                                  "id": "P12", "alert": "A1", "grade_from",
 *                                                  "grade", "grade_change", "report": {...})
 *   approve  {"id": "A1" | "P12"}              -> {"alert": {...}}    (pending -> active; a proposal:
 *                                                  the rise applied, "proposal_approved": true)
 *   reject   {"id": "A1" | "P12", "reason": "..."} -> {"alert": {...}} (pending -> cancelled; a
 *                                                  proposal: dropped, the alert as it was,
 *                                                  "proposal_rejected": true; an active alert
 *                                                  is refused: that is cancel)
 *   optouts  {}                                -> {"optouts": [{"number" (masked), "subscribers",
 *                                                  "since", "via"}]}
 *   route    {"area": "..", "type": "..", "grade": ".."} -> {"deliveries": [...]}
 *   status   {}                                -> {"status": {...}}
 *   reload   {}                                -> {"reloaded": true}
 *   history  {"id": "A1"}                      -> {"history": [{"at", "actor", "event", "revision"?,
 *                                                  "detail"}], "more": bool}  every event, oldest first
 *   audit    {"since_seconds": N, "actor": "..", "limit": N} (each optional)
 *                                              -> {"audit": [{"at", "actor", "action", "alert"?,
 *                                                  "detail"}], "more": bool}  the newest, oldest first
 *   prune    {"dry_run": false}                -> {"prune": {"dry_run", "ended_before", "alerts",
 *                                                  "deliveries", "channels": {"sms": n, ...},
 *                                                  "more", and for a dry run "alert_ids"}}
 *                                                  (retention; show of a pruned alert adds
 *                                                  "delivery_totals" and "details_removed_at")
 *   summary  {"since_seconds": 604800}         -> {"summary": {...}}  figures over the alerts issued in
 *                                                  the last since_seconds (default 7 days; README,
 *                                                  "The panel's summary")
 */
#ifndef DAWN_PROTOCOL_H
#define DAWN_PROTOCOL_H

#define DAWN_VERSION "0.1.0"

#define DAWN_DEFAULT_CONFIG "/etc/dawn/dawn.conf"
#define DAWN_DEFAULT_SOCKET "/run/dawn/control.sock"
#define DAWN_DEFAULT_STATE_DIR "/var/lib/dawn"
#define DAWN_DEFAULT_DASHBOARD_DIR "/usr/share/dawn/dashboard"
#define DAWN_SOCKET_ENV "DAWN_SOCKET"

/* Limits DAWN enforces itself, before and after cJSON sees the input:
 * cJSON's own nesting limit is compiled into the system library. */
#define DAWN_MAX_REQUEST_BYTES (64 * 1024)
#define DAWN_MAX_JSON_DEPTH 8
#define DAWN_MAX_LIST_ITEMS 32
#define DAWN_MAX_WORD_CHARS 100     /* one sold_as / adulterant entry */
#define DAWN_MAX_SUMMARY_CHARS 1000 /* characters, not bytes */
#define DAWN_MAX_TEXT_CHARS 2000    /* appearance, advice */
#define DAWN_MAX_REF_CHARS 128      /* source_ref */
#define DAWN_MAX_ID_CHARS 24

/* dawnctl history and audit: at most this many rows in one answer (and
 * DAWN_TRAIL_MAX_BYTES of text, store.h); "more" says rows were left out. */
#define DAWN_HISTORY_MAX_EVENTS 5000
#define DAWN_AUDIT_DEFAULT_ROWS 1000
#define DAWN_AUDIT_MAX_ROWS 10000

/* dawnctl exit status (SPEC.md) */
enum {
        DAWN_EXIT_OK = 0,
        DAWN_EXIT_REFUSED = 1,
        DAWN_EXIT_USAGE = 2,
        DAWN_EXIT_UNREACHABLE = 3,
};

#endif
