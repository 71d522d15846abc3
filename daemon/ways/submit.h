/* The ways in from outside the control socket: partner reports (HTTP and
 * MQTT ingest), delivery receipts, SMS replies and dashboard
 * acknowledgements. Each call writes through the one write path
 * (commit.h), in a savepoint of its own, exactly as a control-socket
 * request does; the caller must not answer anyone before the batch has
 * committed: when dawn_commit_is_open(ways->commit), take a ticket with
 * dawn_commit_ticket() and answer from its answer function (with "not
 * stored" instead if its r < 0).
 *
 * These functions count themselves in the metrics and log what they did;
 * the callers count only what never reached them (bad tokens, bodies too
 * large, rate limits). */
#ifndef DAWN_SUBMIT_H
#define DAWN_SUBMIT_H

#include <cJSON.h>
#include <stdbool.h>

#include "sms_callback.h"
#include "config.h"

struct dawn_ways;

/* "http" or "mqtt": the metrics label and the actor prefix in the audit log. */
enum dawn_way { DAWN_WAY_CONTROL, DAWN_WAY_HTTP, DAWN_WAY_MQTT };
const char *dawn_way_name(enum dawn_way w);

/* A storage failure in the words a submitter can act on: {"error": "not
 * stored: ..." (or "not read: ..." when wrote is false), "temporary": true}.
 * The one wording every way in uses. */
cJSON *dawn_store_error_json(struct dawn_ways *ways, int r, bool wrote);

/* One report from a configured partner source. Returns the answer object
 * (NULL only when out of memory) and sets *http_status:
 *   201 {"source_ref":..,"id":"A17","status":"active"|"pending","grade":..,"revision":1,"outcome":"new"}
 *       (outcome "pending": a reporter's report now waits in the review queue)
 *   200 the same with outcome "merged" (it corroborated an open alert) or
 *       "duplicate" (this source_ref was seen before: the first answer again)
 *   400 {"error":"...","field":"..."}     nothing stored
 *   503 {"error":"...","temporary":true}  nothing stored; try again
 * *wrote is true when the store was written (answer after the commit). */
cJSON *dawn_ingest_report(struct dawn_ways *ways, const struct dawn_source *src, enum dawn_way way,
                          const cJSON *alert, int *http_status, bool *wrote);

/* A delivery receipt from provider ("notify" or "twilio"), applied by the
 * outbox (dawn_outbox_receipt: the whole reference, a legal transition,
 * once per Twilio request). Returns 0 when it was recorded, or ignored
 * (logged and counted; the caller still answers 200 so the gateway does not
 * retry forever), or a store error. *wrote as above. */
int dawn_ingest_receipt(struct dawn_ways *ways, const char *provider, const struct dawn_receipt *rc, bool *wrote);

/* A text from a phone: STOP opts the number out of SMS (pending texts to
 * it become opted-out), START opts it back in, ACK <id> records an
 * acknowledgement if a text of that alert reached the number (else the same
 * answer whether the alert exists or not); anything else goes into the
 * audit log. A number that belongs to no subscriber is logged and ignored,
 * and so is a Twilio text taken before (its MessageSid: a replay). reply (may be NULL)
 * receives a short confirmation to text back where the provider allows
 * it (Twilio's TwiML answer), or "" for none. From "notify", which cannot
 * answer by text, the reply is queued (sms_replies) in the same write and
 * the SMS channel sends it (README "Replies by text"). Returns 1 if a reply
 * was queued, 0 if not, or a store error. */
/* Replies texted to one number in 24 hours, and waiting in all: beyond
 * these a text is still taken, and not answered (a STOP's confirmation
 * always is). */
#define DAWN_REPLIES_PER_NUMBER_PER_DAY 10  /* the log line below says 10 */
#define DAWN_REPLIES_WAITING_MAX 2000        /* and 2000 */
int dawn_ingest_sms_reply(struct dawn_ways *ways, const char *provider, const struct dawn_inbound_sms *sms,
                          char *reply, size_t reply_size, bool *wrote);

/* An acknowledgement from a subscriber's dashboard (the retained
 * <prefix>/subscribers/<id>/acks/<alert id> message, {"revision":..,"by":..}),
 * recorded only if the alert reached that subscriber's dashboard, for a
 * revision up to the latest that reached it (otherwise -EINVAL naming
 * "alert", in the same words whether the alert exists or not).
 * The same ack seen again (a retained message after a reconnect) is not
 * recorded twice. Returns 0, -EINVAL (err names the field) or a store error. */
int dawn_ingest_ack(struct dawn_ways *ways, const char *subscriber, const char *alert_id, const cJSON *ack,
                    struct dawn_input_error *err, bool *wrote);

/* A reload (dawnctl reload or SIGHUP) goes into the audit log: who asked
 * (the officer's actor, or "SIGHUP"), and whether it applied (r == 0) or
 * not (msg: the errors, joined by "; "). A failure to write it is logged
 * and otherwise ignored: the reload itself has happened or not already. */
void dawn_audit_reload(struct dawn_ways *ways, const char *actor, int r, const char *msg);

#endif
