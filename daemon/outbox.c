#include "outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* How many deliveries one channel may have in flight at once, and how many
 * rows one dispatch reads: enough to keep a broker busy without reading the
 * whole queue into memory. */
#define MAX_IN_FLIGHT 1024
#define DISPATCH_ROWS 256

#define BACKOFF_BASE_USEC (5 * UINT64_C(1000000))
#define BACKOFF_CAP_USEC (600 * UINT64_C(1000000))

/* What the outbox remembers of a delivery while its driver has it. */
struct in_flight {
        int64_t id;        /* 0: empty slot */
        int attempts;      /* including this one */
        enum dawn_channel_kind channel;
};

struct dawn_outbox {
        sd_event *loop;
        struct dawn_store *store;
        struct dawn_commit *commit;
        struct dawn_channel *channels[DAWN_CHANNEL_COUNT];
        unsigned in_flight_count[DAWN_CHANNEL_COUNT];
        uint64_t delivered[DAWN_CHANNEL_COUNT], retried[DAWN_CHANNEL_COUNT], failed[DAWN_CHANNEL_COUNT];
        /* open-addressing table keyed by delivery id; sized for every channel's maximum */
        struct in_flight table[4 * MAX_IN_FLIGHT * DAWN_CHANNEL_COUNT];
        sd_event_source *dispatch_soon;
        sd_event_source *timer;
        bool kick_queued;
};

#define TABLE_SIZE (sizeof(((struct dawn_outbox *)0)->table) / sizeof(struct in_flight))

static struct in_flight *slot_find(struct dawn_outbox *o, int64_t id)
{
        size_t i = (size_t)((uint64_t)id * UINT64_C(0x9E3779B97F4A7C15) >> 40) % TABLE_SIZE;
        for (size_t n = 0; n < TABLE_SIZE; n++, i = (i + 1) % TABLE_SIZE)
                if (o->table[i].id == id || o->table[i].id == 0)
                        return &o->table[i];
        return NULL;
}

static void slot_remove(struct dawn_outbox *o, struct in_flight *slot)
{
        /* backward-shift deletion keeps every probe chain unbroken */
        size_t i = (size_t)(slot - o->table);
        size_t j = i;
        o->table[i].id = 0;
        for (;;) {
                j = (j + 1) % TABLE_SIZE;
                if (o->table[j].id == 0)
                        return;
                size_t home = (size_t)((uint64_t)o->table[j].id * UINT64_C(0x9E3779B97F4A7C15) >> 40) % TABLE_SIZE;
                bool movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
                if (movable) {
                        o->table[i] = o->table[j];
                        o->table[j].id = 0;
                        i = j;
                }
        }
}

uint64_t dawn_backoff_usec(int attempts, uint64_t retry_after_usec, double rand01)
{
        uint64_t d = BACKOFF_BASE_USEC;
        for (int i = 1; i < attempts && d < BACKOFF_CAP_USEC; i++)
                d *= 2;
        if (d > BACKOFF_CAP_USEC)
                d = BACKOFF_CAP_USEC;
        /* jitter spreads out the retries of many deliveries that failed together */
        d = (uint64_t)((double)d * (0.8 + 0.4 * rand01));
        return d < retry_after_usec ? retry_after_usec : d;
}

static int on_dispatch(sd_event_source *s, void *userdata);
static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

int dawn_outbox_new(sd_event *loop, struct dawn_store *store, struct dawn_commit *commit,
                    struct dawn_outbox **out)
{
        struct dawn_outbox *o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->loop = sd_event_ref(loop);
        o->store = store;
        o->commit = commit;
        int r = sd_event_add_defer(loop, &o->dispatch_soon, on_dispatch, o);
        if (r >= 0)
                r = sd_event_source_set_enabled(o->dispatch_soon, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time(loop, &o->timer, CLOCK_REALTIME, UINT64_MAX, 0, on_timer, o);
        if (r >= 0)
                r = sd_event_source_set_enabled(o->timer, SD_EVENT_OFF);
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
        sd_event_source_disable_unref(o->dispatch_soon);
        sd_event_source_disable_unref(o->timer);
        sd_event_unref(o->loop);
        free(o);
        return NULL;
}

void dawn_outbox_attach(struct dawn_outbox *o, enum dawn_channel_kind kind, struct dawn_channel *ch)
{
        o->channels[kind] = ch;
        if (!ch) {
                /* the channel is going away: what it had in flight goes back to the queue at next start */
                for (size_t i = 0; i < TABLE_SIZE; i++)
                        if (o->table[i].id && o->table[i].channel == kind)
                                o->table[i].id = 0;
                o->in_flight_count[kind] = 0;
        }
}

static void after_commit_dispatch(int r, void *userdata)
{
        struct dawn_outbox *o = userdata;
        o->kick_queued = false;
        sd_event_source_set_enabled(o->dispatch_soon, SD_EVENT_ONESHOT);
}

void dawn_outbox_kick(struct dawn_outbox *o)
{
        /* never send from inside an open transaction: what it wrote is not durable yet */
        if (dawn_commit_is_open(o->commit)) {
                if (!o->kick_queued && dawn_commit_after(o->commit, after_commit_dispatch, o) == 0)
                        o->kick_queued = true;
                return;
        }
        sd_event_source_set_enabled(o->dispatch_soon, SD_EVENT_ONESHOT);
}

static void send_row(struct dawn_outbox *o, struct dawn_channel *ch, const struct dawn_outbox_row *row, int64_t now)
{
        char reference[96];
        snprintf(reference, sizeof(reference), "%s-r%d-%lld", row->alert_id, row->revision, (long long)row->id);
        struct dawn_delivery d = {
                .id = row->id, .alert_id = row->alert_id, .revision = row->revision,
                .subscriber = row->subscriber, .recipient = row->recipient, .action = row->action,
                .alert_json = row->alert_json, .reference = reference,
        };
        struct in_flight *slot = slot_find(o, row->id);
        if (!slot || slot->id == row->id)
                return; /* already in flight (or the table is full): never send one delivery twice at once */
        int r = dawn_store_delivery_started(o->store, row->id, now);
        if (r < 0) {
                log_error_errno(r, "outbox: cannot record delivery %lld as started: %s", (long long)row->id,
                                dawn_store_errmsg(o->store));
                return;
        }
        r = ch->driver->send(ch, &d);
        if (r < 0) {
                /* not taken: it waits, as it would have if we had not tried */
                dawn_store_delivery_finished(o->store, row->id, DAWN_DELIVERY_PENDING, NULL, 0, now);
                return;
        }
        *slot = (struct in_flight){ row->id, row->attempts + 1, row->channel };
        o->in_flight_count[row->channel]++;
}

/* Sends what is due on one channel. Returns true if more may be waiting. */
static bool dispatch_channel(struct dawn_outbox *o, enum dawn_channel_kind kind, int64_t now)
{
        struct dawn_channel *ch = o->channels[kind];
        if (!ch || !ch->driver->ready(ch))
                return false;
        int room = MAX_IN_FLIGHT - (int)o->in_flight_count[kind];
        if (room <= 0)
                return false; /* completions will kick again */
        int limit = room < DISPATCH_ROWS ? room : DISPATCH_ROWS;
        static struct dawn_outbox_row rows[DISPATCH_ROWS];
        if (dawn_commit_open(o->commit) < 0)
                return false;
        int n = dawn_store_due_deliveries(o->store, kind, now, rows, limit);
        if (n < 0) {
                log_error_errno(n, "outbox: cannot read due deliveries: %s", dawn_store_errmsg(o->store));
                return false;
        }
        for (int i = 0; i < n; i++) {
                send_row(o, ch, &rows[i], now);
                dawn_outbox_row_clear(&rows[i]);
        }
        return n == limit;
}

static void arm_timer(struct dawn_outbox *o, int64_t now)
{
        int64_t next = 0;
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++) {
                if (!o->channels[k] || !o->channels[k]->driver->ready(o->channels[k]))
                        continue;
                int64_t t = dawn_store_next_due(o->store, (enum dawn_channel_kind)k);
                if (t > now && (next == 0 || t < next))
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
        int64_t now = dawn_now_usec();
        bool more = false;
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++)
                more |= dispatch_channel(o, (enum dawn_channel_kind)k, now);
        if (more)
                dawn_outbox_kick(o);
        else
                arm_timer(o, now);
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

        int64_t now = dawn_now_usec();
        enum dawn_delivery_state state;
        int64_t next_at = 0;
        if (result == DAWN_SEND_DELIVERED) {
                state = DAWN_DELIVERY_DELIVERED;
                o->delivered[f.channel]++;
        } else if (result == DAWN_SEND_PERMANENT) {
                state = DAWN_DELIVERY_FAILED;
                o->failed[f.channel]++;
                log_error("outbox: delivery %lld on %s failed for good: %s", (long long)delivery_id,
                          ch->driver->name, error ? error : "no reason given");
        } else if (!ch->driver->ready(ch)) {
                /* the channel itself went away (broker down): not the recipient's failure, so
                 * no backoff; it goes the moment the channel is back */
                state = DAWN_DELIVERY_PENDING;
        } else {
                state = DAWN_DELIVERY_RETRYING;
                next_at = now + (int64_t)dawn_backoff_usec(f.attempts, retry_after_usec, drand48());
                o->retried[f.channel]++;
        }
        int r = dawn_commit_open(o->commit);
        if (r == 0)
                r = dawn_store_delivery_finished(o->store, delivery_id, state, error, next_at, now);
        if (r < 0)
                log_error_errno(r, "outbox: cannot record delivery %lld: %s", (long long)delivery_id,
                                dawn_store_errmsg(o->store));
        dawn_commit_count(o->commit);
        if (state != DAWN_DELIVERY_PENDING || o->in_flight_count[f.channel] + 1 == MAX_IN_FLIGHT)
                dawn_outbox_kick(o);
}

void dawn_outbox_status(struct dawn_outbox *o, cJSON *object)
{
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++) {
                struct dawn_channel *ch = o->channels[k];
                if (!ch)
                        continue;
                cJSON *c = cJSON_GetObjectItemCaseSensitive(object, dawn_channel_name((enum dawn_channel_kind)k));
                if (!c)
                        c = cJSON_AddObjectToObject(object, dawn_channel_name((enum dawn_channel_kind)k));
                cJSON_AddStringToObject(c, "state", ch->driver->describe(ch));
                cJSON_AddBoolToObject(c, "ready", ch->driver->ready(ch));
                cJSON_AddNumberToObject(c, "in_flight_now", o->in_flight_count[k]);
                cJSON_AddNumberToObject(c, "delivered_since_start", (double)o->delivered[k]);
                cJSON_AddNumberToObject(c, "retried_since_start", (double)o->retried[k]);
                cJSON_AddNumberToObject(c, "failed_since_start", (double)o->failed[k]);
        }
}

unsigned dawn_outbox_in_flight(struct dawn_outbox *o)
{
        unsigned n = 0;
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++)
                n += o->in_flight_count[k];
        return n;
}
