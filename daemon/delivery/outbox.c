#include "outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "escalation.h"
#include "pause.h"
#include "quiet_hours.h"

/* How many rows one dispatch reads: enough to keep a channel busy without
 * reading the whole queue into memory. How many a channel may have in flight
 * is its max_in_flight (config). */
#define DISPATCH_ROWS 256
/* Open addressing over every channel's in-flight deliveries: a power of two
 * at least twice the sum of the channels' max_in_flight, so it is at most half
 * full and probes stay short. Sized from the configuration (4096 slots, 128
 * KiB, for the defaults), not for the largest values it allows (65536 slots,
 * 2 MiB, as many as before for those): delivery ids hash all over the table,
 * so within a minute of sending every page of it is resident, and it was a
 * tenth of dawnd's peak RSS under load. A reload that raises a limit grows it
 * before the next dispatch (table_fit). */
#define TABLE_MIN 1024

#define BACKOFF_BASE_USEC (5 * UINT64_C(1000000))
#define BACKOFF_CAP_USEC (600 * UINT64_C(1000000))

/* What the outbox remembers of a delivery while its driver has it. */
struct in_flight {
        int64_t id;        /* 0: empty slot */
        int attempts;      /* including this one */
        enum dawn_channel_kind channel;
        int64_t created_at;
        bool public_text;  /* a text to a member of the public (purpose 'public') */
        unsigned claim;    /* which claim holds the slot (struct claimed), until it is handed over */
};

/* A send whose claim (its row moved to in-flight) is in the open batch: it is
 * handed to its driver only once that batch has committed. Sent before, a
 * claim that then did not commit (a full disk, the database away, a split
 * between this node and it) would leave the row free for another node to
 * take and send while this node's send was on its way: one text twice, the
 * double send on a split that DAWN's claims are there to prevent. */
struct claimed {
        unsigned claim;                  /* its slot's, so a slot taken again (a reload) is not sent twice */
        bool reply;
        struct dawn_outbox_row row;      /* owned (a delivery) */
        struct dawn_reply_row reply_row; /* (an SMS reply) */
};

struct dawn_outbox {
        sd_event *loop;
        struct dawn_store *store;
        struct dawn_commit *commit;
        struct dawn_config *const *config;  /* the daemon's: reload replaces what it points to */
        struct dawn_channel *channels[DAWN_CHANNEL_COUNT];
        struct dawn_token_bucket bucket[DAWN_CHANNEL_COUNT];
        int bucket_rate[DAWN_CHANNEL_COUNT];
        /* On a store several nodes share, sends granted by the shared bucket for the
         * dispatch under way; what one dispatch leaves is dropped, never saved up */
        int granted[DAWN_CHANNEL_COUNT];
        int64_t expiry_checked[DAWN_CHANNEL_COUNT];
        unsigned in_flight_count[DAWN_CHANNEL_COUNT];
        unsigned in_flight_public;          /* of in_flight_count[DAWN_CHANNEL_SMS] */
        uint64_t delivered[DAWN_CHANNEL_COUNT], retried[DAWN_CHANNEL_COUNT], failed[DAWN_CHANNEL_COUNT];
        /* deliveries that ended otherwise: back to wait for a paused channel, or opted out */
        uint64_t ended_other[DAWN_CHANNEL_COUNT];
        struct dawn_channel_pause pause[DAWN_CHANNEL_COUNT];
        struct in_flight *table;            /* table_size slots keyed by delivery id */
        size_t table_size;                  /* a power of two */
        sd_event_source *dispatch_soon;
        sd_event_source *timer;
        sd_event_source *sweep;             /* lifetimes, also while a channel cannot send */
        struct dawn_ticket kick;            /* a dispatch waits for the open batch to commit */
        struct claimed *claimed;            /* sends waiting for their claims' batch to commit */
        size_t n_claimed, cap_claimed;      /* at most one per in-flight slot */
        unsigned next_claim;
        struct dawn_ticket claims;          /* the batch that holds them */
        /* whether the alert JSON last looked at for quiet hours is critical: the due rows of one
         * revision come together, and each would otherwise parse the same JSON for one field */
        char *grade_json;
        bool grade_critical;
};

static size_t slot_home(int64_t id, size_t size)
{
        return (size_t)((uint64_t)id * UINT64_C(0x9E3779B97F4A7C15) >> 32) & (size - 1);
}

/* The slot of id in table, or the empty one where it would go; NULL if full. */
static struct in_flight *table_find(struct in_flight *table, size_t size, int64_t id)
{
        size_t i = slot_home(id, size);
        for (size_t n = 0; n < size; n++, i = (i + 1) & (size - 1))
                if (table[i].id == id || table[i].id == 0)
                        return &table[i];
        return NULL;
}

static struct in_flight *slot_find(struct dawn_outbox *o, int64_t id)
{
        return table_find(o->table, o->table_size, id);
}

/* The table's size for the configuration's limits. */
static size_t table_size_for(const struct dawn_config *c)
{
        size_t want = 0;
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++)
                want += (size_t)dawn_config_channel_limits(c, (enum dawn_channel_kind)k)->max_in_flight;
        want *= 2;
        size_t size = TABLE_MIN;
        while (size < want)
                size *= 2;
        return size;
}

/* After a reload: a table too small for the new limits grows (never shrinks:
 * what is in flight under the old limits stays). False if it could not. */
static bool table_fit(struct dawn_outbox *o)
{
        size_t size = table_size_for(*o->config);
        if (size <= o->table_size)
                return true;
        struct in_flight *table = calloc(size, sizeof(*table));
        if (!table) {
                log_error("outbox: no memory for %zu in-flight slots; dispatching with %zu", size, o->table_size);
                return false;
        }
        for (size_t i = 0; i < o->table_size; i++)
                if (o->table[i].id)
                        *table_find(table, size, o->table[i].id) = o->table[i];
        log_info("outbox: room for %zu deliveries in flight now (%zu before): a reload raised max_in_flight",
                 size / 2, o->table_size / 2);
        free(o->table);
        o->table = table;
        o->table_size = size;
        return true;
}

static void slot_remove(struct dawn_outbox *o, struct in_flight *slot)
{
        /* backward-shift deletion keeps every probe chain unbroken */
        size_t i = (size_t)(slot - o->table);
        size_t j = i;
        o->table[i].id = 0;
        for (;;) {
                j = (j + 1) & (o->table_size - 1);
                if (o->table[j].id == 0)
                        return;
                size_t home = slot_home(o->table[j].id, o->table_size);
                bool movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
                if (movable) {
                        o->table[i] = o->table[j];
                        o->table[j].id = 0;
                        i = j;
                }
        }
}

uint64_t dawn_backoff_usec(int attempts, uint64_t initial_usec, uint64_t age_usec, uint64_t retry_after_usec,
                           double rand01)
{
        uint64_t d = initial_usec ? initial_usec : BACKOFF_BASE_USEC;
        for (int i = 1; i < attempts && d < BACKOFF_CAP_USEC; i++)
                d *= 2;
        /* a delivery that has failed for a long time is retried less often: an
         * eighth of its age, so a day-long outage costs tens of attempts, not thousands */
        if (d < age_usec / 8)
                d = age_usec / 8;
        if (d > BACKOFF_CAP_USEC)
                d = BACKOFF_CAP_USEC;
        /* jitter spreads out the retries of many deliveries that failed together */
        d = (uint64_t)((double)d * (0.8 + 0.4 * rand01));
        return d < retry_after_usec ? retry_after_usec : d;
}

bool dawn_retry_decide(int attempts, int64_t created_at, int64_t now, uint64_t retry_after_usec,
                       uint64_t lifetime_usec, uint64_t initial_usec, double rand01, int64_t *retry_at)
{
        uint64_t age = now > created_at ? (uint64_t)(now - created_at) : 0;
        *retry_at = 0;
        if (lifetime_usec && age > lifetime_usec)
                return false;
        *retry_at = now + (int64_t)dawn_backoff_usec(attempts, initial_usec, age, retry_after_usec, rand01);
        return true;
}

static int on_dispatch(sd_event_source *s, void *userdata);
static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);
static int on_sweep(sd_event_source *s, uint64_t usec, void *userdata);

int dawn_outbox_new(sd_event *loop, struct dawn_store *store, struct dawn_commit *commit,
                    struct dawn_config *const *config, struct dawn_outbox **out)
{
        struct dawn_outbox *o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->table_size = table_size_for(*config);
        o->table = calloc(o->table_size, sizeof(*o->table));
        if (!o->table) {
                free(o);
                return -ENOMEM;
        }
        o->loop = sd_event_ref(loop);
        o->store = store;
        o->commit = commit;
        o->config = config;
        int r = sd_event_add_defer(loop, &o->dispatch_soon, on_dispatch, o);
        if (r >= 0)
                r = sd_event_source_set_enabled(o->dispatch_soon, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time(loop, &o->timer, CLOCK_REALTIME, UINT64_MAX, 0, on_timer, o);
        if (r >= 0)
                r = sd_event_source_set_enabled(o->timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time_relative(loop, &o->sweep, CLOCK_MONOTONIC, 30 * DAWN_USEC_PER_SEC, 0, on_sweep, o);
        if (r >= 0)
                r = sd_event_source_set_enabled(o->sweep, SD_EVENT_ON);
        if (r < 0) {
                dawn_outbox_free(o);
                return r;
        }
        *out = o;
        return 0;
}

struct dawn_outbox *dawn_outbox_free(struct dawn_outbox *o)
{
        if (!o)
                return NULL;
        dawn_ticket_cancel(&o->kick);
        dawn_ticket_cancel(&o->claims);
        for (size_t i = 0; i < o->n_claimed; i++)
                if (!o->claimed[i].reply)
                        dawn_outbox_row_clear(&o->claimed[i].row);
        free(o->claimed);
        sd_event_source_disable_unref(o->dispatch_soon);
        sd_event_source_disable_unref(o->timer);
        sd_event_source_disable_unref(o->sweep);
        sd_event_unref(o->loop);
        free(o->grade_json);
        free(o->table);
        free(o);
        return NULL;
}

static void pause_end(struct dawn_outbox *o, enum dawn_channel_kind kind, int64_t now, const char *why,
                      const char *actor);

void dawn_outbox_attach(struct dawn_outbox *o, enum dawn_channel_kind kind, struct dawn_channel *ch)
{
        o->channels[kind] = ch;
        if (!ch) {
                /* a reload (or shutdown) stops the channel: the next one starts with the
                 * configuration as it is now, and finds out for itself */
                if (o->pause[kind].reason != DAWN_PAUSE_NONE)
                        pause_end(o, kind, dawn_now_usec(), "the channel was restarted (reload)", "dawnd (reload)");
                /* the channel is going away: what it had in flight goes back to the queue (the
                 * daemon requeues in-flight rows), so forget it here; removal shifts later entries
                 * back, so look at the same slot again */
                for (size_t i = 0; i < o->table_size; i++)
                        while (o->table[i].id && o->table[i].channel == kind)
                                slot_remove(o, &o->table[i]);
                o->in_flight_count[kind] = 0;
                if (kind == DAWN_CHANNEL_SMS)
                        o->in_flight_public = 0;
        }
}

static void after_commit_dispatch(int r, void *userdata)
{
        struct dawn_outbox *o = userdata;
        sd_event_source_set_enabled(o->dispatch_soon, SD_EVENT_ONESHOT);
}

void dawn_outbox_kick(struct dawn_outbox *o)
{
        /* never send from inside an open transaction: what it wrote is not durable yet */
        if (dawn_commit_is_open(o->commit)) {
                if (!dawn_ticket_pending(&o->kick))
                        dawn_commit_ticket(o->commit, &o->kick, after_commit_dispatch, o);
                return;
        }
        sd_event_source_set_enabled(o->dispatch_soon, SD_EVENT_ONESHOT);
}

/* Whether the alert (its JSON at a revision) is critical. */
static bool critical(struct dawn_outbox *o, const char *alert_json)
{
        if (!alert_json)
                return false;
        if (o->grade_json && strcmp(o->grade_json, alert_json) == 0)
                return o->grade_critical;
        cJSON *alert = cJSON_Parse(alert_json);
        const cJSON *grade = cJSON_GetObjectItemCaseSensitive(alert, "grade");
        bool is = cJSON_IsString(grade) && strcmp(grade->valuestring, "critical") == 0;
        /* not parsed (out of memory) or not copied: no memo, the next row parses again */
        if (alert) {
                free(o->grade_json);
                o->grade_json = strdup(alert_json);
                o->grade_critical = is;
        }
        cJSON_Delete(alert);
        return is;
}

/* Non-critical SMS and email wait while the subscriber's quiet hours last;
 * a critical alert goes at once. Returns when the wait ends, or 0. */
static int64_t quiet_until(struct dawn_outbox *o, const struct dawn_outbox_row *row, int64_t now)
{
        const struct dawn_config *c = *o->config;
        if (row->channel == DAWN_CHANNEL_MQTT)
                return 0; /* a dashboard makes no noise: it may always be current */
        const struct dawn_subscriber *sub = dawn_config_subscriber(c, row->subscriber);
        if (!sub || !sub->has_quiet_hours)
                return 0;
        if (critical(o, row->alert_json))
                return 0;
        return dawn_quiet_hours_end(sub->quiet_start_min, sub->quiet_end_min, c->timezone, now);
}

void dawn_delivery_reference(const char *alert_id, int revision, int64_t id, char *buf, size_t size)
{
        snprintf(buf, size, "%s-r%d-%lld", alert_id, revision, (long long)id);
}

/* An escalation's text is read when it goes: what became of the alert's own
 * deliveries to the subscriber who did not acknowledge. 0, or -errno. */
struct escalation_send {
        struct dawn_alert alert;
        struct dawn_escalation_facts facts;
        char phrase[256];
        char *mqtt_json;        /* the MQTT payload */
};

static int escalation_prepare(struct dawn_outbox *o, const struct dawn_outbox_row *row, struct escalation_send *e)
{
        dawn_alert_init(&e->alert);
        cJSON *json = cJSON_Parse(row->alert_json);
        int r = json ? dawn_alert_from_json(json, &e->alert) : -EINVAL;
        cJSON_Delete(json);
        if (r >= 0)
                r = dawn_escalation_facts(o->store, *o->config, &e->alert, row->about, &e->facts, e->phrase,
                                          sizeof(e->phrase));
        if (r >= 0 && row->channel == DAWN_CHANNEL_MQTT && !(e->mqtt_json = dawn_escalation_json(&e->facts)))
                r = -ENOMEM;
        return r < 0 ? r : 0;
}

static char *dup_or_null(const char *v, bool *failed)
{
        if (!v)
                return NULL;
        char *c = strdup(v);
        if (!c)
                *failed = true;
        return c;
}

static void on_claims(int r, void *userdata);

/* Queues a claimed send until its batch commits (struct claimed), taking a
 * copy of the row. The slot is reserved by the caller with the claim's
 * number. 0, or -ENOMEM (nothing queued). */
static int claim_wait(struct dawn_outbox *o, const struct dawn_outbox_row *row, const struct dawn_reply_row *reply,
                      unsigned claim)
{
        if (o->n_claimed == o->cap_claimed) {
                size_t cap = o->cap_claimed ? o->cap_claimed * 2 : 64;
                struct claimed *v = realloc(o->claimed, cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                o->claimed = v;
                o->cap_claimed = cap;
        }
        struct claimed *c = &o->claimed[o->n_claimed];
        memset(c, 0, sizeof(*c));
        c->claim = claim;
        if (reply) {
                c->reply = true;
                c->reply_row = *reply;
        } else {
                bool failed = false;
                c->row = *row;
                c->row.subscriber = dup_or_null(row->subscriber, &failed);
                c->row.recipient = dup_or_null(row->recipient, &failed);
                c->row.alert_json = dup_or_null(row->alert_json, &failed);
                c->row.about = dup_or_null(row->about, &failed);
                if (failed) {
                        dawn_outbox_row_clear(&c->row);
                        return -ENOMEM;
                }
        }
        o->n_claimed++;
        if (!dawn_ticket_pending(&o->claims))
                dawn_commit_ticket(o->commit, &o->claims, on_claims, o);
        return 0;
}

/* The slot a claim reserved, while it is still that claim's (a reload that
 * restarted the channel forgot it, and the row may have been claimed again). */
static struct in_flight *claim_slot(struct dawn_outbox *o, int64_t id, unsigned claim)
{
        struct in_flight *slot = slot_find(o, id);
        return slot && slot->id == id && slot->claim == claim ? slot : NULL;
}

static void slot_release(struct dawn_outbox *o, struct in_flight *slot)
{
        enum dawn_channel_kind kind = slot->channel;
        bool public_text = slot->public_text;
        slot_remove(o, slot);
        o->in_flight_count[kind]--;
        o->in_flight_public -= public_text;
}

/* Whether the channel can take a send now. */
static struct dawn_channel *channel_for_send(struct dawn_outbox *o, enum dawn_channel_kind kind)
{
        struct dawn_channel *ch = o->channels[kind];
        return ch && ch->driver->ready(ch) && o->pause[kind].reason == DAWN_PAUSE_NONE ? ch : NULL;
}

/* A delivery whose claim has committed, to its driver. */
static void hand_over_row(struct dawn_outbox *o, struct dawn_outbox_row *row, unsigned claim, int64_t now)
{
        struct in_flight *slot = claim_slot(o, row->id, claim);
        if (!slot)
                return; /* forgotten: its channel was restarted, and the row went back to the queue */
        struct escalation_send esc = { 0 };
        bool escalation = strcmp(row->purpose, "escalation") == 0;
        struct dawn_channel *ch = channel_for_send(o, row->channel);
        int r = ch ? 0 : -EAGAIN;
        if (r == 0 && escalation)
                r = escalation_prepare(o, row, &esc);
        if (r == 0) {
                char reference[96];
                dawn_delivery_reference(row->alert_id, row->revision, row->id, reference, sizeof(reference));
                struct dawn_delivery d = {
                        .id = row->id, .alert_id = row->alert_id, .revision = row->revision,
                        .subscriber = row->subscriber, .recipient = row->recipient, .action = row->action,
                        .alert_json = esc.mqtt_json ? esc.mqtt_json : row->alert_json, .reference = reference,
                        .escalation = escalation ? &esc.facts : NULL,
                };
                r = ch->driver->send(ch, &d);
        }
        if (r < 0) {
                /* not taken (or its channel paused meanwhile): it waits, as it would have if we
                 * had not tried; a row that cannot be put back runs out of its claim instead */
                slot_release(o, slot_find(o, row->id));
                if (dawn_commit_open(o->commit) == 0)
                        dawn_store_delivery_finished(o->store, row->id, DAWN_DELIVERY_PENDING, NULL, 0, now);
        }
        if (escalation)
                dawn_alert_clear(&esc.alert);
        free(esc.mqtt_json);
}

static void hand_over_reply(struct dawn_outbox *o, const struct dawn_reply_row *row, unsigned claim, int64_t now);

/* The batch holding the claims ended: committed, each is handed to its driver;
 * else no claim was kept, and nothing is sent (the rows are due again). */
static void on_claims(int r, void *userdata)
{
        struct dawn_outbox *o = userdata;
        struct claimed *list = o->claimed;
        size_t n = o->n_claimed;
        o->claimed = NULL;
        o->n_claimed = o->cap_claimed = 0;
        int64_t now = dawn_now_usec();
        for (size_t i = 0; i < n; i++) {
                struct claimed *c = &list[i];
                int64_t id = c->reply ? -c->reply_row.id : c->row.id;
                if (r == 0 && c->reply) {
                        hand_over_reply(o, &c->reply_row, c->claim, now);
                } else if (r == 0) {
                        hand_over_row(o, &c->row, c->claim, now);
                } else {
                        struct in_flight *slot = claim_slot(o, id, c->claim);
                        if (slot)
                                slot_release(o, slot);
                }
                if (!c->reply)
                        dawn_outbox_row_clear(&c->row);
        }
        free(list);
        /* a batch that did not commit (a full disk, the database away) is not tried again at
         * once, in a loop: a second later, or sooner if a write commits */
        if (r == 0)
                sd_event_source_set_enabled(o->dispatch_soon, SD_EVENT_ONESHOT);
        else if (n > 0) {
                sd_event_source_set_time(o->timer, (uint64_t)(now + (int64_t)DAWN_USEC_PER_SEC));
                sd_event_source_set_enabled(o->timer, SD_EVENT_ONESHOT);
        }
}

static void send_row(struct dawn_outbox *o, struct dawn_channel *ch, const struct dawn_outbox_row *row, int64_t now)
{
        (void)ch; /* the channel as it is when the claim has committed (hand_over_row) */
        struct in_flight *slot = slot_find(o, row->id);
        if (!slot || slot->id == row->id)
                return; /* already in flight (or the table is full): never send one delivery twice at once */
        int r = dawn_store_delivery_started(o->store, row->id, now);
        if (r < 0) {
                log_delivery_errno(LOG_ERR, r, row->alert_id, dawn_channel_name(row->channel), row->id,
                                   "outbox: cannot record delivery %lld as started: %s", (long long)row->id,
                                   dawn_store_errmsg(o->store));
                return;
        }
        unsigned claim = ++o->next_claim;
        if (claim_wait(o, row, NULL, claim) < 0) {
                dawn_store_delivery_finished(o->store, row->id, DAWN_DELIVERY_PENDING, NULL, 0, now);
                return;
        }
        bool public_text = strcmp(row->purpose, "public") == 0;
        *slot = (struct in_flight){ row->id, row->attempts + 1, row->channel, row->created_at, public_text, claim };
        o->in_flight_count[row->channel]++;
        o->in_flight_public += public_text;
}

/* ---- SMS replies (README "Replies by text") ----
 * A reply to a text that came through Notify is an sms_replies row, not an
 * outbox row: in the in-flight table and towards the driver its id is
 * negated, so the two never meet. Replies go after the due deliveries, take
 * the channel's tokens and in-flight slots, retry with its backoff and fail
 * after its lifetime, like any text. */

static bool sms_receipts_expected(const struct dawn_config *c);
static void pause_begin(struct dawn_outbox *o, enum dawn_channel_kind kind, enum dawn_pause_reason reason,
                        uint64_t retry_after_usec, const char *error, int64_t now);

static void reply_reference(int64_t id, char *buf, size_t size)
{
        snprintf(buf, size, "reply-%lld", (long long)id);
}

/* Returns true if it took a token's worth of the channel (its send waits for its claim's
 * batch to commit: hand_over_reply). */
static bool send_reply(struct dawn_outbox *o, struct dawn_channel *ch, const struct dawn_reply_row *row, int64_t now)
{
        if (row->opted_out) {
                /* the number replied STOP after this was queued: only the STOP's own confirmation goes */
                if (dawn_store_reply_move(o->store, row->id, row->state, DAWN_DELIVERY_OPTED_OUT,
                                          "the number replied STOP", 0, now) > 0)
                        dawn_metrics_count(DAWN_M_SMS_REPLY_TEXTS, "opted-out", NULL);
                return false;
        }
        char reference[32];
        reply_reference(row->id, reference, sizeof(reference));
        (void)ch; /* handed over once the claim has committed (hand_over_reply) */
        struct in_flight *slot = slot_find(o, -row->id);
        if (!slot || slot->id == -row->id)
                return false;
        int r = dawn_store_reply_move(o->store, row->id, row->state, DAWN_DELIVERY_INFLIGHT, NULL, 0, now);
        if (r <= 0) {
                if (r < 0)
                        log_error_errno(r, "outbox: cannot record %s as started: %s", reference,
                                        dawn_store_errmsg(o->store));
                return false;
        }
        unsigned claim = ++o->next_claim;
        if (claim_wait(o, NULL, row, claim) < 0) {
                dawn_store_reply_move(o->store, row->id, DAWN_DELIVERY_INFLIGHT, DAWN_DELIVERY_PENDING, NULL, 0, now);
                return false;
        }
        *slot = (struct in_flight){ -row->id, row->attempts + 1, DAWN_CHANNEL_SMS, row->created_at, false, claim };
        o->in_flight_count[DAWN_CHANNEL_SMS]++;
        return true;
}

static void hand_over_reply(struct dawn_outbox *o, const struct dawn_reply_row *row, unsigned claim, int64_t now)
{
        struct in_flight *slot = claim_slot(o, -row->id, claim);
        if (!slot)
                return;
        char reference[32];
        reply_reference(row->id, reference, sizeof(reference));
        struct dawn_delivery d = {
                .id = -row->id, .alert_id = reference, .revision = 0, .subscriber = "", .recipient = row->number,
                .action = DAWN_ACTION_PUBLISH, .alert_json = NULL, .reference = reference, .text = row->body,
        };
        struct dawn_channel *ch = channel_for_send(o, DAWN_CHANNEL_SMS);
        if (!ch || ch->driver->send(ch, &d) < 0) {
                slot_release(o, slot_find(o, -row->id));
                if (dawn_commit_open(o->commit) == 0)
                        dawn_store_reply_move(o->store, row->id, DAWN_DELIVERY_INFLIGHT, DAWN_DELIVERY_PENDING, NULL,
                                              0, now);
        }
}

/* One send's worth of the channel's rate. On a store several nodes share the
 * rate is the provider's limit for the whole key, not each node's: sends are
 * granted by the one bucket in the database (dawn_store_take_tokens), as
 * many at a time as this dispatch could use (want), and this node's own
 * bucket only holds its settings. */
static bool take_token(struct dawn_outbox *o, enum dawn_channel_kind kind, struct dawn_token_bucket *b, int want,
                       int64_t now)
{
        if (!dawn_store_shared(o->store) || b->capacity <= 0)
                return dawn_bucket_take(b, now);
        if (o->granted[kind] == 0) {
                int g = dawn_store_take_tokens(o->store, kind, want > 0 ? want : 1, b->capacity, b->per_usec);
                if (g < 0)
                        log_error_errno(g, "outbox: cannot take from the %s channel's shared rate: %s",
                                        dawn_channel_name(kind), dawn_store_errmsg(o->store));
                o->granted[kind] = g > 0 ? g : 0;
        }
        if (o->granted[kind] == 0)
                return false;
        o->granted[kind]--;
        return true;
}

/* When to look again for a send's worth of the channel's rate. */
static int64_t token_wait_usec(struct dawn_outbox *o, struct dawn_token_bucket *b, int64_t now)
{
        if (!dawn_store_shared(o->store) || b->capacity <= 0)
                return (int64_t)dawn_bucket_wait_usec(b, now);
        /* the shared bucket's next token, or another node's batch to commit */
        int64_t one = b->per_usec > 0 ? (int64_t)(1.0 / b->per_usec) : 1000000;
        return one < 10000 ? 10000 : one;
}

/* Due replies, into what room and tokens the channel's deliveries left. */
static void dispatch_replies(struct dawn_outbox *o, struct dawn_channel *ch, struct dawn_token_bucket *b, int64_t now,
                             int64_t *wake, bool *more)
{
        int room = dawn_config_channel_limits(*o->config, DAWN_CHANNEL_SMS)->max_in_flight -
                   (int)o->in_flight_count[DAWN_CHANNEL_SMS];
        if (room <= 0)
                return;
        static struct dawn_reply_row rows[64];
        int limit = room < 64 ? room : 64;
        int n = dawn_store_due_replies(o->store, now, rows, limit);
        if (n < 0) {
                log_error_errno(n, "outbox: cannot read due replies: %s", dawn_store_errmsg(o->store));
                return;
        }
        for (int i = 0; i < n; i++) {
                if (!rows[i].opted_out && !take_token(o, DAWN_CHANNEL_SMS, b, n - i, now)) {
                        *wake = now + token_wait_usec(o, b, now);
                        return;
                }
                send_reply(o, ch, &rows[i], now);
        }
        if (n == limit)
                *more = true;
}

static void reply_complete(struct dawn_outbox *o, struct dawn_channel *ch, const struct in_flight *f,
                           enum dawn_send_result result, const char *error, uint64_t retry_after_usec, int64_t now)
{
        int64_t id = -f->id, next_at = 0;
        char reference[32];
        reply_reference(id, reference, sizeof(reference));
        const struct dawn_channel_limits *lim = dawn_config_channel_limits(*o->config, DAWN_CHANNEL_SMS);
        enum dawn_delivery_state state;
        if (result == DAWN_SEND_PAUSE_CREDENTIALS || result == DAWN_SEND_PAUSE_RATE) {
                /* the provider refuses the channel, not this reply: the channel pauses, the reply waits */
                pause_begin(o, DAWN_CHANNEL_SMS,
                            result == DAWN_SEND_PAUSE_RATE ? DAWN_PAUSE_RATE_LIMIT : DAWN_PAUSE_CREDENTIALS,
                            retry_after_usec, error, now);
                state = DAWN_DELIVERY_PENDING;
                next_at = o->pause[DAWN_CHANNEL_SMS].until ? o->pause[DAWN_CHANNEL_SMS].until : now;
        } else if (result == DAWN_SEND_OPTED_OUT) {
                /* the provider blocks the number (Twilio 21610): Twilio has answered it already */
                state = DAWN_DELIVERY_OPTED_OUT;
                dawn_metrics_count(DAWN_M_SMS_REPLY_TEXTS, "opted-out", NULL);
        } else if (result == DAWN_SEND_DELIVERED) {
                state = sms_receipts_expected(*o->config) ? DAWN_DELIVERY_SENT : DAWN_DELIVERY_DELIVERED;
                dawn_metrics_count(DAWN_M_SMS_REPLY_TEXTS, "sent", NULL);
        } else if (result == DAWN_SEND_PERMANENT) {
                state = DAWN_DELIVERY_FAILED;
        } else if (!ch->driver->ready(ch)) {
                state = DAWN_DELIVERY_PENDING;
        } else if (!dawn_retry_decide(f->attempts, f->created_at, now, retry_after_usec, lim->lifetime_usec,
                                      lim->retry_initial_usec, drand48(), &next_at)) {
                state = DAWN_DELIVERY_FAILED;
        } else {
                state = DAWN_DELIVERY_RETRYING;
        }
        if (state == DAWN_DELIVERY_FAILED) {
                dawn_metrics_count(DAWN_M_SMS_REPLY_TEXTS, "failed", NULL);
                log_warning("outbox: %s failed%s: %s", reference,
                            result == DAWN_SEND_PERMANENT ? " for good" : " (past the channel's lifetime)",
                            error ? error : "no reason given");
        }
        int r = dawn_commit_open(o->commit);
        if (r == 0)
                r = dawn_store_reply_move(o->store, id, DAWN_DELIVERY_INFLIGHT, state, error, next_at, now);
        if (r < 0)
                log_error_errno(r, "outbox: cannot record %s: %s", reference, dawn_store_errmsg(o->store));
        if (state != DAWN_DELIVERY_PENDING)
                dawn_outbox_kick(o);
}

/* Deliveries that could not go within the channel's lifetime fail, loudly:
 * never silently dropped, never retried for ever. */
static void fail_expired(struct dawn_outbox *o, enum dawn_channel_kind kind, int64_t now)
{
        const struct dawn_channel_limits *lim = dawn_config_channel_limits(*o->config, kind);
        /* a paused channel's lifetime clock is stopped (pause.h) */
        if (o->pause[kind].reason != DAWN_PAUSE_NONE)
                return;
        /* lifetimes are hours long: once a second is timely, and keeps this scan of the
         * waiting rows off the path of every dispatch */
        if (!lim->lifetime_usec || now - o->expiry_checked[kind] < (int64_t)DAWN_USEC_PER_SEC)
                return;
        o->expiry_checked[kind] = now;
        char reason[96];
        snprintf(reason, sizeof(reason), "not delivered within its lifetime (%llu s)",
                 (unsigned long long)(lim->lifetime_usec / 1000000));
        if (kind == DAWN_CHANNEL_SMS) {
                int k = dawn_store_replies_fail_expired(o->store, now - (int64_t)lim->lifetime_usec, reason, now);
                if (k > 0) {
                        dawn_metrics_add(DAWN_M_SMS_REPLY_TEXTS, "failed", NULL, (uint64_t)k);
                        log_warning("outbox: %d SMS repl(ies) failed: %s", k, reason);
                }
        }
        int n = dawn_store_fail_expired(o->store, kind, now - (int64_t)lim->lifetime_usec, reason, now);
        if (n > 0) {
                o->failed[kind] += (uint64_t)n;
                dawn_metrics_add(DAWN_M_DELIVERY_FAILURES, dawn_channel_name(kind), "lifetime", (uint64_t)n);
                log_delivery(LOG_ERR, NULL, dawn_channel_name(kind), 0, "outbox: %d %s delivery(ies) failed: %s", n,
                             dawn_channel_name(kind), reason);
        }
}

/* The channel's rate limit, kept in step with the config across reloads. */
static struct dawn_token_bucket *bucket(struct dawn_outbox *o, enum dawn_channel_kind kind, int64_t now)
{
        int rate = dawn_config_channel_limits(*o->config, kind)->rate_per_minute;
        if (rate != o->bucket_rate[kind]) {
                dawn_bucket_init(&o->bucket[kind], rate, now);
                o->bucket_rate[kind] = rate;
        }
        return &o->bucket[kind];
}

/* Sends what is due on one channel. Returns true if more may be waiting
 * right now; *wake gets a time to look again when only the rate limit or
 * quiet hours held something back. */
static bool dispatch_channel(struct dawn_outbox *o, enum dawn_channel_kind kind, int64_t now, int64_t *wake)
{
        struct dawn_channel *ch = o->channels[kind];
        if (!ch || !ch->driver->ready(ch))
                return false;
        if (dawn_commit_open(o->commit) < 0)
                return false;
        struct dawn_channel_pause *p = &o->pause[kind];
        if (p->reason == DAWN_PAUSE_RATE_LIMIT && now >= p->until)
                pause_end(o, kind, now, "its rate limit's wait is over", NULL);
        if (p->reason != DAWN_PAUSE_NONE) {
                if (p->reason == DAWN_PAUSE_RATE_LIMIT)
                        *wake = p->until;
                return false;
        }
        fail_expired(o, kind, now);
        int room = dawn_config_channel_limits(*o->config, kind)->max_in_flight - (int)o->in_flight_count[kind];
        if (room <= 0)
                return false; /* completions will kick again */
        struct dawn_token_bucket *b = bucket(o, kind, now);
        o->granted[kind] = 0;
        /* this node's own bucket, when it has the channel to itself: the shared one is
         * asked only when there is something to send */
        uint64_t wait = dawn_store_shared(o->store) ? 0 : dawn_bucket_wait_usec(b, now);
        if (wait) {
                *wake = now + (int64_t)wait;
                return false;
        }
        int limit = room < DISPATCH_ROWS ? room : DISPATCH_ROWS;
        static struct dawn_outbox_row rows[DISPATCH_ROWS];
        int n = dawn_store_due_deliveries(o->store, kind, now, rows, limit);
        if (n < 0) {
                log_error_errno(n, "outbox: cannot read due deliveries: %s", dawn_store_errmsg(o->store));
                return false;
        }
        bool more = n == limit;
        /* public texts never take the last slot: one stuck at the gateway (a slow
         * carrier, a number that does not answer) must not hold up a hostel's alert
         * until it times out. Due rows come professional first, so what is left
         * over is public: it waits for a completion, which kicks again. While public
         * texts are switched off (public.enabled = false on a reload), they wait
         * (until their lifetime ends, or they are on again). */
        int max = dawn_config_channel_limits(*o->config, kind)->max_in_flight;
        int public_room = !(*o->config)->public_texts.enabled ? 0
                          : max > 1                            ? max - 1 - (int)o->in_flight_public
                                                               : max;
        for (int i = 0; i < n; i++) {
                if (strcmp(rows[i].purpose, "public") == 0) {
                        /* a number removed (dawnctl public --remove) while its text was in
                         * flight gets no retry of it: it is held as leaving holds what waits */
                        int member = public_room > 0 ? dawn_store_public_member(o->store, rows[i].recipient) : 1;
                        if (member == 0) {
                                /* no longer due: a dispatch right after finds what was behind it */
                                dawn_store_public_leave(o->store, rows[i].recipient, now);
                                dawn_outbox_row_clear(&rows[i]);
                                continue;
                        }
                        if (public_room-- <= 0 || member < 0) {
                                more = false;
                                dawn_outbox_row_clear(&rows[i]);
                                continue;
                        }
                }
                int64_t until = quiet_until(o, &rows[i], now);
                if (until > 0) {
                        dawn_store_delivery_finished(o->store, rows[i].id, DAWN_DELIVERY_PENDING,
                                                     "waiting for the subscriber's quiet hours to end", until, now);
                } else if (take_token(o, kind, b, n - i, now)) {
                        send_row(o, ch, &rows[i], now);
                } else {
                        /* the rest stay due; look again when the next token is there */
                        *wake = now + token_wait_usec(o, b, now);
                        more = false;
                        for (; i < n; i++)
                                dawn_outbox_row_clear(&rows[i]);
                        break;
                }
                dawn_outbox_row_clear(&rows[i]);
        }
        /* replies to texts come after every due delivery (as public texts do) */
        if (kind == DAWN_CHANNEL_SMS && !more && !*wake)
                dispatch_replies(o, ch, b, now, wake, &more);
        return more;
}

static void arm_timer(struct dawn_outbox *o, int64_t now, int64_t wake)
{
        int64_t next = wake;
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++) {
                if (!o->channels[k] || !o->channels[k]->driver->ready(o->channels[k]))
                        continue;
                if (o->pause[k].reason != DAWN_PAUSE_NONE) {
                        /* a rate limit ends by itself; credentials wait for a person */
                        int64_t until = o->pause[k].reason == DAWN_PAUSE_RATE_LIMIT ? o->pause[k].until : 0;
                        if (until && (next == 0 || until < next))
                                next = until > now ? until : now + 1;
                        continue;
                }
                int64_t t = dawn_store_next_due(o->store, (enum dawn_channel_kind)k);
                if (t > now && (next == 0 || t < next))
                        next = t;
                if (k == DAWN_CHANNEL_SMS && (t = dawn_store_replies_next_due(o->store)) > now &&
                    (next == 0 || t < next))
                        next = t;
        }
        if (next) {
                sd_event_source_set_time(o->timer, (uint64_t)next);
                sd_event_source_set_enabled(o->timer, SD_EVENT_ONESHOT);
        } else {
                sd_event_source_set_enabled(o->timer, SD_EVENT_OFF);
        }
}

static int on_dispatch(sd_event_source *s, void *userdata)
{
        struct dawn_outbox *o = userdata;
        int64_t now = dawn_now_usec(), wake = 0;
        table_fit(o); /* if it cannot grow, a full table sends nothing more until slots free up */
        bool more = false;
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++) {
                int64_t w = 0;
                more |= dispatch_channel(o, (enum dawn_channel_kind)k, now, &w);
                if (w && (wake == 0 || w < wake))
                        wake = w;
        }
        if (more)
                dawn_outbox_kick(o);
        else
                arm_timer(o, now, wake);
        return 0;
}

/* A channel that cannot send is never dispatched, but its deliveries still
 * age: fail those past their lifetime so that an outage is visible. */
static int on_sweep(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct dawn_outbox *o = userdata;
        int64_t now = dawn_now_usec();
        if (dawn_commit_open(o->commit) == 0)
                for (int k = 0; k < DAWN_CHANNEL_COUNT; k++)
                        if (o->channels[k])
                                fail_expired(o, (enum dawn_channel_kind)k, now);
        sd_event_source_set_time_relative(s, 30 * DAWN_USEC_PER_SEC);
        sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        dawn_outbox_kick(userdata);
        return 0;
}

void dawn_outbox_on_ready(struct dawn_channel *ch, void *userdata)
{
        struct dawn_outbox *o = userdata;
        log_info("outbox: channel %s is ready: %s", ch->driver->name, ch->driver->describe(ch));
        dawn_outbox_kick(o);
}

/* With delivery receipts configured, the gateway taking a text is not the
 * text arriving: the delivery is "sent" until the handset's receipt says
 * more. Without them, the gateway's word is all there will be. */
static bool sms_receipts_expected(const struct dawn_config *c)
{
        return (c->sms.provider == DAWN_SMS_NOTIFY && c->sms.callback_token_file) ||
               (c->sms.provider == DAWN_SMS_TWILIO && c->sms.callback_base_url);
}

static const char *result_name(enum dawn_send_result result)
{
        switch (result) {
        case DAWN_SEND_DELIVERED:
                return "delivered";
        case DAWN_SEND_TRANSIENT:
                return "transient";
        case DAWN_SEND_PERMANENT:
                return "permanent";
        case DAWN_SEND_PAUSE_CREDENTIALS:
                return "refused_credentials";
        case DAWN_SEND_PAUSE_RATE:
                return "rate_limited";
        case DAWN_SEND_OPTED_OUT:
                return "opted_out";
        }
        return "?";
}

/* ---- channel pauses (pause.h) ---- */

/* The wait of a 429 without Retry-After: the outbox's backoff over the
 * pauses in a row, so a limit that persists is asked less often. */
static uint64_t rate_wait(struct dawn_outbox *o, enum dawn_channel_kind kind, uint64_t retry_after_usec)
{
        if (retry_after_usec)
                return retry_after_usec;
        const struct dawn_channel_limits *lim = dawn_config_channel_limits(*o->config, kind);
        return dawn_backoff_usec(o->pause[kind].rate_pauses, lim->retry_initial_usec, 0, 0, drand48());
}

static void pause_begin(struct dawn_outbox *o, enum dawn_channel_kind kind, enum dawn_pause_reason reason,
                        uint64_t retry_after_usec, const char *error, int64_t now)
{
        struct dawn_channel_pause *p = &o->pause[kind];
        const char *channel = dawn_channel_name(kind);
        if (p->reason == DAWN_PAUSE_CREDENTIALS)
                return; /* already waiting for a person; a rate limit changes nothing */
        if (p->reason == DAWN_PAUSE_RATE_LIMIT && reason == DAWN_PAUSE_RATE_LIMIT) {
                /* another 429 from a request that was already on its way: the same pause */
                int64_t until = now + (int64_t)rate_wait(o, kind, retry_after_usec);
                if (until > p->until)
                        p->until = until;
                return;
        }
        if (p->reason == DAWN_PAUSE_NONE)
                p->since = now;
        p->reason = reason;
        dawn_metrics_count(DAWN_M_CHANNEL_PAUSES, channel, dawn_pause_reason_name(reason));
        if (reason == DAWN_PAUSE_RATE_LIMIT) {
                p->rate_pauses++;
                uint64_t wait = rate_wait(o, kind, retry_after_usec);
                p->until = now + (int64_t)wait;
                log_delivery(LOG_ERR, NULL, channel, 0,
                             "outbox: channel %s paused for %.1f s: %s (%s); its deliveries wait and go on "
                             "by themselves after that", channel, (double)wait / 1e6, dawn_pause_reason_text(reason),
                             error ? error : "HTTP 429");
        } else {
                p->until = 0;
                /* a person has to act: the audit log keeps when and why (a rate-limit pause ends
                 * by itself, and is only counted) */
                char detail[300];
                snprintf(detail, sizeof(detail), "channel %s paused: %s (%.200s)", channel,
                         dawn_pause_reason_text(reason), error ? error : "refused");
                if (dawn_commit_open(o->commit) == 0)
                        dawn_store_audit(o->store, "dawnd (outbox)", "pause", NULL, detail, now);
                log_delivery(LOG_ERR, NULL, channel, 0,
                             "outbox: channel %s paused: %s (%s); its deliveries wait (not failed) until "
                             "`dawnctl reload` restarts the channel with a corrected configuration, or "
                             "`dawnctl resume %s` once the cause is fixed", channel, dawn_pause_reason_text(reason),
                             error ? error : "refused", channel);
        }
}

static void pause_end(struct dawn_outbox *o, enum dawn_channel_kind kind, int64_t now, const char *why,
                      const char *actor)
{
        struct dawn_channel_pause *p = &o->pause[kind];
        const char *channel = dawn_channel_name(kind);
        /* the lifetime clock stood still while paused: give the waiting deliveries that time back */
        int r = dawn_commit_open(o->commit);
        if (r == 0)
                r = dawn_store_credit_pause(o->store, kind, p->since, now);
        if (r < 0)
                log_error_errno(r, "outbox: channel %s: cannot give its waiting deliveries their paused time back "
                                   "(%s); their lifetimes count it, ignoring", channel, dawn_store_errmsg(o->store));
        log_delivery(LOG_NOTICE, NULL, channel, 0, "outbox: channel %s resumes after %.0f s paused (%s): %s",
                     channel, (double)(now - p->since) / 1e6, dawn_pause_reason_text(p->reason), why);
        if (r >= 0 && p->reason == DAWN_PAUSE_CREDENTIALS) {
                char detail[300];
                snprintf(detail, sizeof(detail), "channel %s resumed after %.0f s paused: %s", channel,
                         (double)(now - p->since) / 1e6, why);
                dawn_store_audit(o->store, actor ? actor : "dawnd (outbox)", "resume", NULL, detail, now);
        }
        int rate_pauses = p->rate_pauses;
        *p = (struct dawn_channel_pause){ .reason = DAWN_PAUSE_NONE, .rate_pauses = rate_pauses };
        dawn_outbox_kick(o);
}

int dawn_outbox_resume(struct dawn_outbox *o, enum dawn_channel_kind kind, const char *who)
{
        if ((unsigned)kind >= DAWN_CHANNEL_COUNT || !o->channels[kind])
                return -ENOENT;
        if (o->pause[kind].reason == DAWN_PAUSE_NONE)
                return 0;
        char why[160];
        snprintf(why, sizeof(why), "resumed by %s", who ? who : "an operator");
        pause_end(o, kind, dawn_now_usec(), why, who);
        return 1;
}

bool dawn_outbox_pause(struct dawn_outbox *o, enum dawn_channel_kind kind, struct dawn_channel_pause *out)
{
        if ((unsigned)kind >= DAWN_CHANNEL_COUNT || !o->channels[kind] ||
            o->pause[kind].reason == DAWN_PAUSE_NONE)
                return false;
        if (out)
                *out = o->pause[kind];
        return true;
}

/* The provider says the number opted out (Twilio 21610: it replied STOP to
 * Twilio, which answered it and blocks texts to it): recorded as a STOP
 * would be, so nothing more is sent to it. */
static void provider_opt_out(struct dawn_outbox *o, int64_t delivery_id, const char *error, int64_t now)
{
        struct dawn_outbox_row row;
        int r = dawn_commit_open(o->commit);
        if (r == 0)
                r = dawn_store_load_delivery(o->store, delivery_id, &row);
        if (r <= 0) {
                if (r < 0)
                        log_error_errno(r, "outbox: delivery %lld: cannot record its number's opt-out: %s",
                                        (long long)delivery_id, dawn_store_errmsg(o->store));
                return;
        }
        const char *provider = (*o->config)->sms.provider == DAWN_SMS_TWILIO ? "twilio" : "notify";
        char masked[64], actor[96], detail[200];
        dawn_mask_recipient(row.recipient, masked, sizeof(masked));
        r = dawn_store_set_opt_out(o->store, row.recipient, true, provider, now);
        if (r > 0) {
                snprintf(actor, sizeof(actor), "%s (%s)", provider, masked);
                snprintf(detail, sizeof(detail), "opted out of texts: %s refuses texts to it (%.120s)", provider,
                         error ? error : "unsubscribed");
                r = dawn_store_audit(o->store, actor, "sms-stop", NULL, detail, now);
                log_notice("%s opted out of texts at %s (it replied STOP there): no more texts to it", masked,
                           provider);
        }
        if (r < 0)
                log_error_errno(r, "outbox: cannot record that %s opted out: %s", masked, dawn_store_errmsg(o->store));
        dawn_outbox_row_clear(&row);
}

void dawn_outbox_on_complete(struct dawn_channel *ch, int64_t delivery_id, enum dawn_send_result result,
                             const char *error, uint64_t retry_after_usec, void *userdata)
{
        struct dawn_outbox *o = userdata;
        struct in_flight *slot = slot_find(o, delivery_id);
        if (!slot || slot->id != delivery_id)
                return; /* not ours any more (the channel was replaced): the row went back to the queue */
        struct in_flight f = *slot;
        slot_remove(o, slot);
        o->in_flight_count[f.channel]--;
        o->in_flight_public -= f.public_text;

        int64_t now = dawn_now_usec();
        if (f.id < 0) {
                reply_complete(o, ch, &f, result, error, retry_after_usec, now);
                return;
        }
        const char *channel = dawn_channel_name(f.channel);
        dawn_metrics_count(DAWN_M_DELIVERY_ATTEMPTS, channel, result_name(result));
        const struct dawn_channel_limits *lim = dawn_config_channel_limits(*o->config, f.channel);
        enum dawn_delivery_state state;
        int64_t next_at = 0;
        if (result == DAWN_SEND_PAUSE_CREDENTIALS || result == DAWN_SEND_PAUSE_RATE) {
                /* the provider refuses the channel, not this delivery: it waits, unharmed */
                enum dawn_pause_reason why = result == DAWN_SEND_PAUSE_RATE ? DAWN_PAUSE_RATE_LIMIT
                                                                           : DAWN_PAUSE_CREDENTIALS;
                pause_begin(o, f.channel, why, retry_after_usec, error, now);
                state = DAWN_DELIVERY_PENDING;
                o->ended_other[f.channel]++;
                error = dawn_pause_delivery_error(o->pause[f.channel].reason);
                /* due again when the pause ends (a rate limit: its end; credentials: at once, once resumed) */
                next_at = o->pause[f.channel].until ? o->pause[f.channel].until : now;
        } else if (result == DAWN_SEND_OPTED_OUT) {
                state = DAWN_DELIVERY_OPTED_OUT;
                o->ended_other[f.channel]++;
                provider_opt_out(o, delivery_id, error, now);
        } else if (result == DAWN_SEND_DELIVERED) {
                o->pause[f.channel].rate_pauses = 0;
                bool sent_only = f.channel == DAWN_CHANNEL_SMS && sms_receipts_expected(*o->config);
                state = sent_only ? DAWN_DELIVERY_SENT : DAWN_DELIVERY_DELIVERED;
                o->delivered[f.channel]++;
                /* to the peer's acknowledgement (for a text, the gateway's), which is what
                 * the histogram promises; a clock stepped back counts as no time at all */
                dawn_metrics_observe_latency(f.channel, now > f.created_at ? (uint64_t)(now - f.created_at) : 0);
        } else if (result == DAWN_SEND_PERMANENT) {
                state = DAWN_DELIVERY_FAILED;
                o->failed[f.channel]++;
                dawn_metrics_count(DAWN_M_DELIVERY_FAILURES, channel, "permanent");
                log_delivery(LOG_ERR, NULL, ch->driver->name, delivery_id, "outbox: delivery %lld on %s failed for good: %s",
                             (long long)delivery_id, ch->driver->name, error ? error : "no reason given");
        } else if (!ch->driver->ready(ch)) {
                /* the channel itself went away (broker down): not the recipient's failure, so
                 * no backoff; it goes the moment the channel is back */
                state = DAWN_DELIVERY_PENDING;
        } else if (!dawn_retry_decide(f.attempts, f.created_at, now, retry_after_usec, lim->lifetime_usec,
                                      lim->retry_initial_usec, drand48(), &next_at)) {
                state = DAWN_DELIVERY_FAILED;
                o->failed[f.channel]++;
                dawn_metrics_count(DAWN_M_DELIVERY_FAILURES, channel, "lifetime");
                log_delivery(LOG_ERR, NULL, ch->driver->name, delivery_id,
                             "outbox: delivery %lld on %s failed: still failing after its lifetime: %s",
                             (long long)delivery_id, ch->driver->name, error ? error : "no reason given");
        } else {
                state = DAWN_DELIVERY_RETRYING; /* at next_at */
                o->retried[f.channel]++;
                dawn_metrics_count(DAWN_M_DELIVERY_RETRIES, channel, NULL);
        }
        int r = dawn_commit_open(o->commit);
        if (r == 0)
                r = dawn_store_delivery_finished(o->store, delivery_id, state, error, next_at, now);
        if (r < 0)
                log_delivery_errno(LOG_ERR, r, NULL, ch->driver->name, delivery_id,
                                   "outbox: cannot record delivery %lld: %s", (long long)delivery_id,
                                   dawn_store_errmsg(o->store));
        if (state != DAWN_DELIVERY_PENDING)
                dawn_outbox_kick(o); /* room for the next one */
}

void dawn_outbox_counts(struct dawn_outbox *o, enum dawn_channel_kind kind, struct dawn_outbox_counts *out)
{
        struct dawn_channel *ch = o->channels[kind];
        *out = (struct dawn_outbox_counts){
                .attached = ch != NULL,
                /* a paused channel cannot send now: the watchdog expects nothing of it */
                .ready = ch && ch->driver->ready(ch) && o->pause[kind].reason == DAWN_PAUSE_NONE,
                .paused = ch && o->pause[kind].reason != DAWN_PAUSE_NONE,
                .ended_other = o->ended_other[kind],
                .in_flight = o->in_flight_count[kind],
                .delivered = o->delivered[kind],
                .retried = o->retried[kind],
                .failed = o->failed[kind],
        };
}

void dawn_outbox_status(struct dawn_outbox *o, cJSON *object)
{
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++) {
                struct dawn_channel *ch = o->channels[k];
                struct dawn_outbox_counts n;
                if (!ch)
                        continue;
                dawn_outbox_counts(o, (enum dawn_channel_kind)k, &n);
                cJSON *c = cJSON_GetObjectItemCaseSensitive(object, dawn_channel_name((enum dawn_channel_kind)k));
                if (!c)
                        c = cJSON_AddObjectToObject(object, dawn_channel_name((enum dawn_channel_kind)k));
                if (o->pause[k].reason != DAWN_PAUSE_NONE) {
                        char state[256], since[40];
                        dawn_pause_describe(&o->pause[k], state, sizeof(state));
                        cJSON_AddStringToObject(c, "state", state);
                        cJSON_AddStringToObject(c, "paused", dawn_pause_reason_name(o->pause[k].reason));
                        cJSON_AddStringToObject(c, "paused_since", dawn_time_format(o->pause[k].since, since,
                                                                                    sizeof(since)));
                        cJSON_AddStringToObject(c, "driver_state", ch->driver->describe(ch));
                } else {
                        cJSON_AddStringToObject(c, "state", ch->driver->describe(ch));
                }
                cJSON_AddBoolToObject(c, "ready", n.ready);
                cJSON_AddNumberToObject(c, "in_flight_now", n.in_flight);
                cJSON_AddNumberToObject(c, "delivered_since_start", (double)n.delivered);
                cJSON_AddNumberToObject(c, "retried_since_start", (double)n.retried);
                cJSON_AddNumberToObject(c, "failed_since_start", (double)n.failed);
                int64_t replies = k == DAWN_CHANNEL_SMS ? dawn_store_replies_waiting(o->store) : -1;
                if (replies >= 0) /* replies to texts (README "Replies by text") not yet sent */
                        cJSON_AddNumberToObject(c, "replies_waiting", (double)replies);
        }
}

size_t dawn_outbox_in_flight_ids(struct dawn_outbox *o, int64_t *ids, size_t max)
{
        size_t n = 0;
        /* an SMS reply's slot holds its id negated, and so does the answer */
        for (size_t i = 0; i < o->table_size && n < max; i++)
                if (o->table[i].id != 0)
                        ids[n++] = o->table[i].id;
        return n;
}

unsigned dawn_outbox_in_flight(struct dawn_outbox *o)
{
        unsigned n = 0;
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++)
                n += o->in_flight_count[k];
        return n;
}

/* ---- a delivery's life ---- */

#define P (1u << DAWN_DELIVERY_PENDING)
#define I (1u << DAWN_DELIVERY_INFLIGHT)
#define D (1u << DAWN_DELIVERY_DELIVERED)
#define R (1u << DAWN_DELIVERY_RETRYING)
#define F (1u << DAWN_DELIVERY_FAILED)
#define T (1u << DAWN_DELIVERY_SENT)

/* Per event: the states it moves a delivery from (to one state), and the
 * states in which it is legal but changes nothing. Every other pair is
 * illegal. Superseded and opted-out texts were never sent, so nothing but
 * an in-progress receipt (which claims nothing) is legal for them. */
static const struct {
        const char *name;
        unsigned from;
        enum dawn_delivery_state to;
        unsigned unchanged;
} transitions[DAWN_EVENT_COUNT] = {
        [DAWN_EVENT_DISPATCH] = { "dispatch", P | R, DAWN_DELIVERY_INFLIGHT, 0 },
        [DAWN_EVENT_WAIT] = { "wait", P | R | I, DAWN_DELIVERY_PENDING, 0 },
        [DAWN_EVENT_SENT] = { "sent", I, DAWN_DELIVERY_SENT, 0 },
        [DAWN_EVENT_DELIVERED] = { "delivered", I, DAWN_DELIVERY_DELIVERED, 0 },
        [DAWN_EVENT_RETRY] = { "retry", I, DAWN_DELIVERY_RETRYING, 0 },
        [DAWN_EVENT_FAIL] = { "fail", P | R | I, DAWN_DELIVERY_FAILED, 0 },
        [DAWN_EVENT_SUPERSEDE] = { "supersede", P | R, DAWN_DELIVERY_SUPERSEDED, 0 },
        [DAWN_EVENT_OPT_OUT] = { "opt-out", P | R, DAWN_DELIVERY_OPTED_OUT, 0 },
        [DAWN_EVENT_RECEIPT_DELIVERED] = { "receipt-delivered", T | I, DAWN_DELIVERY_DELIVERED, D },
        [DAWN_EVENT_RECEIPT_PERMANENT] = { "receipt-permanent-failure", T | I, DAWN_DELIVERY_FAILED, F },
        /* In flight: the gateway has the text (it could not send a receipt otherwise) and its
         * answer has not been read yet; the answer then finds the text retrying and leaves it
         * so. Ignoring the receipt would leave the text "sent" for good, waiting for a receipt
         * that already came. Retrying: it is already to go again. */
        [DAWN_EVENT_RECEIPT_TEMPORARY] = { "receipt-temporary-failure", T | I, DAWN_DELIVERY_RETRYING, R },
        [DAWN_EVENT_RECEIPT_IN_PROGRESS] = { "receipt-in-progress", 0, DAWN_DELIVERY_PENDING,
                                             (1u << DAWN_DELIVERY_STATE_COUNT) - 1 },
        [DAWN_EVENT_PROVIDER_OPT_OUT] = { "provider-opt-out", I, DAWN_DELIVERY_OPTED_OUT, 0 },
};

#undef P
#undef I
#undef D
#undef R
#undef F
#undef T

const char *dawn_delivery_event_name(enum dawn_delivery_event e)
{
        return (unsigned)e < DAWN_EVENT_COUNT ? transitions[e].name : "?";
}

enum dawn_delivery_event dawn_receipt_event(enum dawn_receipt_status status)
{
        switch (status) {
        case DAWN_RECEIPT_DELIVERED:
                return DAWN_EVENT_RECEIPT_DELIVERED;
        case DAWN_RECEIPT_PERMANENT_FAILURE:
                return DAWN_EVENT_RECEIPT_PERMANENT;
        case DAWN_RECEIPT_TEMPORARY_FAILURE:
                return DAWN_EVENT_RECEIPT_TEMPORARY;
        case DAWN_RECEIPT_IN_PROGRESS:
                break;
        }
        return DAWN_EVENT_RECEIPT_IN_PROGRESS;
}

int dawn_delivery_next(enum dawn_delivery_state from, enum dawn_delivery_event event, enum dawn_delivery_state *to)
{
        if ((unsigned)from >= DAWN_DELIVERY_STATE_COUNT || (unsigned)event >= DAWN_EVENT_COUNT)
                return -EPERM;
        unsigned bit = 1u << from;
        if (transitions[event].from & bit) {
                *to = transitions[event].to;
                return 1;
        }
        return transitions[event].unchanged & bit ? 0 : -EPERM;
}

/* ---- receipts ---- */

/* An ignored receipt is worth a warning (a gateway misconfigured, or
 * someone with its token forging receipts), but a flood of them must not
 * become a flood of log lines. */
bool dawn_outbox_ignored_log_ok(int64_t now)
{
        uint64_t unlogged;
        bool ok = dawn_callback_log_ok(now, &unlogged);
        if (unlogged)
                log_warning("callbacks: %llu more ignored callbacks in the last minute were not logged "
                            "(dawn_callbacks_ignored_total counts them all)", (unsigned long long)unlogged);
        return ok;
}

const char *dawn_receipt_outcome_name(enum dawn_receipt_outcome o)
{
        static const char *const names[] = { "applied", "unchanged", "replayed", "unknown-delivery", "mismatched",
                                             "illegal-transition" };
        return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "?";
}

static void receipt_ignored(const char *provider, const struct dawn_receipt *rc, enum dawn_receipt_outcome outcome,
                            const struct dawn_outbox_row *row, int64_t now)
{
        dawn_metrics_count(DAWN_M_CALLBACKS_IGNORED, provider, dawn_receipt_outcome_name(outcome));
        if (!dawn_outbox_ignored_log_ok(now))
                return;
        char masked[64], reference[96];
        switch (outcome) {
        case DAWN_RECEIPT_REPLAYED:
                log_warning("%s receipt (%s) for %s: MessageSid %s with this status was taken before; "
                            "a replay, ignored", provider, rc->provider_status, rc->reference, rc->message_sid);
                break;
        case DAWN_RECEIPT_UNKNOWN:
                log_warning("%s receipt (%s) for %s: no text has that reference; ignored", provider,
                            rc->provider_status, rc->reference);
                break;
        case DAWN_RECEIPT_MISMATCHED:
                dawn_mask_recipient(row->recipient, masked, sizeof(masked));
                dawn_delivery_reference(row->alert_id, row->revision, row->id, reference, sizeof(reference));
                log_delivery(LOG_WARNING, row->alert_id, "sms", row->id,
                             "%s receipt (%s) for %s: row %lld is the text %s to %s, not that reference; ignored",
                             provider, rc->provider_status, rc->reference, (long long)row->id, reference, masked);
                break;
        case DAWN_RECEIPT_ILLEGAL:
                dawn_mask_recipient(row->recipient, masked, sizeof(masked));
                log_delivery(LOG_WARNING, row->alert_id, "sms", row->id,
                             "%s receipt (%s) for %s to %s: the text is %s, which that receipt cannot change; ignored",
                             provider, rc->provider_status, rc->reference, masked,
                             dawn_delivery_state_name(row->state));
                break;
        default:
                break;
        }
}

/* The state the receipt moves the row to: its write, or -errno. */
static int receipt_move(struct dawn_store *store, const char *provider, const struct dawn_receipt *rc,
                        const struct dawn_outbox_row *row, enum dawn_delivery_state to, uint64_t retry_initial_usec,
                        int64_t now)
{
        char masked[64], error[160];
        dawn_mask_recipient(row->recipient, masked, sizeof(masked));
        snprintf(error, sizeof(error), "%s receipt: %s", provider, rc->provider_status);
        int64_t next_at = 0;
        if (to == DAWN_DELIVERY_RETRYING)
                /* the handset was off or out of reach: send again, with the same backoff as any
                 * retry; its lifetime is the sweep's to enforce (no lifetime here) */
                dawn_retry_decide(row->attempts, row->created_at, now, 0, 0, retry_initial_usec, drand48(), &next_at);
        int r = dawn_store_delivery_move(store, row->id, row->state, to, to == DAWN_DELIVERY_DELIVERED ? NULL : error,
                                         next_at, now);
        if (r <= 0)
                return r == 0 ? -ESTALE : r; /* read and written in one transaction: cannot happen */
        if (to == DAWN_DELIVERY_DELIVERED) {
                log_delivery(LOG_INFO, row->alert_id, "sms", row->id, "text %s to %s: delivered to the handset (%s)",
                             rc->reference, masked, provider);
        } else if (to == DAWN_DELIVERY_FAILED) {
                dawn_metrics_count(DAWN_M_DELIVERY_FAILURES, "sms", "receipt");
                log_delivery(LOG_ERR, row->alert_id, "sms", row->id, "text %s to %s failed for good: %s",
                             rc->reference, masked, error);
        } else if (to == DAWN_DELIVERY_RETRYING) {
                dawn_metrics_count(DAWN_M_DELIVERY_RETRIES, "sms", NULL);
                log_delivery(LOG_WARNING, row->alert_id, "sms", row->id,
                             "text %s to %s not delivered (%s): trying again", rc->reference, masked, error);
        }
        return 0;
}

/* A receipt for a reply ("reply-<id>"): the same transition table moves it. */
static int reply_receipt(struct dawn_store *store, const char *provider, const struct dawn_receipt *rc,
                         uint64_t retry_initial_usec, int64_t now, enum dawn_receipt_outcome *outcome)
{
        struct dawn_reply_row row;
        int r = dawn_store_load_reply(store, rc->delivery_id, &row);
        if (r <= 0) {
                if (r == 0)
                        receipt_ignored(provider, rc, *outcome, NULL, now);
                return r;
        }
        enum dawn_delivery_state to = row.state;
        r = dawn_delivery_next(row.state, dawn_receipt_event(rc->status), &to);
        *outcome = r < 0 ? DAWN_RECEIPT_ILLEGAL : r == 0 ? DAWN_RECEIPT_UNCHANGED : DAWN_RECEIPT_APPLIED;
        if (*outcome == DAWN_RECEIPT_ILLEGAL) {
                dawn_metrics_count(DAWN_M_CALLBACKS_IGNORED, provider, dawn_receipt_outcome_name(*outcome));
                if (dawn_outbox_ignored_log_ok(now))
                        log_warning("%s receipt (%s) for %s: the reply is %s, which that receipt cannot change; ignored",
                                    provider, rc->provider_status, rc->reference, dawn_delivery_state_name(row.state));
                return 0;
        }
        if (*outcome != DAWN_RECEIPT_APPLIED)
                return 0;
        char error[160];
        snprintf(error, sizeof(error), "%s receipt: %s", provider, rc->provider_status);
        int64_t next_at = 0;
        if (to == DAWN_DELIVERY_RETRYING)
                dawn_retry_decide(row.attempts, row.created_at, now, 0, 0, retry_initial_usec, drand48(), &next_at);
        r = dawn_store_reply_receipt_move(store, row.id, row.state, to, to == DAWN_DELIVERY_DELIVERED ? NULL : error,
                                          next_at, now);
        if (r < 0)
                return r;
        if (to == DAWN_DELIVERY_FAILED) {
                dawn_metrics_count(DAWN_M_SMS_REPLY_TEXTS, "failed", NULL);
                log_warning("reply %s failed for good: %s", rc->reference, error);
        }
        return 0;
}

int dawn_outbox_receipt(struct dawn_store *store, const char *provider, const struct dawn_receipt *rc,
                        uint64_t retry_initial_usec, int64_t now, enum dawn_receipt_outcome *outcome)
{
        int r;
        *outcome = DAWN_RECEIPT_UNKNOWN;
        /* a Twilio request is taken once: its signature has no time in it, so a captured one
         * would be valid for ever. Recorded in the caller's savepoint, with what it changes. */
        if (rc->message_sid[0]) {
                r = dawn_store_note_twilio_request(store, rc->message_sid, rc->provider_status,
                                                   now + (int64_t)DAWN_TWILIO_STATUS_KEEP_USEC, now);
                if (r < 0)
                        return r;
                if (r == 0) {
                        *outcome = DAWN_RECEIPT_REPLAYED;
                        receipt_ignored(provider, rc, *outcome, NULL, now);
                        return 0;
                }
        }
        if (rc->reply)
                return reply_receipt(store, provider, rc, retry_initial_usec, now, outcome);
        struct dawn_outbox_row row;
        r = dawn_store_load_delivery(store, rc->delivery_id, &row);
        if (r < 0)
                return r;
        if (r == 0 || row.channel != DAWN_CHANNEL_SMS) {
                if (r > 0)
                        dawn_outbox_row_clear(&row);
                receipt_ignored(provider, rc, *outcome, NULL, now);
                return 0;
        }
        /* the whole reference: a row id alone would let a receipt for one alert's text
         * change another's that happens to have the same number */
        char reference[96];
        dawn_delivery_reference(row.alert_id, row.revision, row.id, reference, sizeof(reference));
        enum dawn_delivery_state to = row.state;
        if (strcmp(reference, rc->reference) != 0) {
                *outcome = DAWN_RECEIPT_MISMATCHED;
        } else {
                r = dawn_delivery_next(row.state, dawn_receipt_event(rc->status), &to);
                *outcome = r < 0 ? DAWN_RECEIPT_ILLEGAL : r == 0 ? DAWN_RECEIPT_UNCHANGED : DAWN_RECEIPT_APPLIED;
        }
        r = 0;
        if (*outcome == DAWN_RECEIPT_APPLIED)
                r = receipt_move(store, provider, rc, &row, to, retry_initial_usec, now);
        else if (*outcome != DAWN_RECEIPT_UNCHANGED)
                receipt_ignored(provider, rc, *outcome, &row, now);
        dawn_outbox_row_clear(&row);
        return r;
}
