#include "heartbeat.h"

#include <errno.h>
#include <stdlib.h>

#include "clock.h"
#include "dawn/protocol.h"
#include "log.h"

struct dawn_heartbeat {
        sd_event *loop;
        sd_event_source *timer;
        struct dawn_store *store;
        struct dawn_commit *commit;
        struct dawn_ticket ticket;
        bool failing; /* the last beat was not stored: said once, and once when it is again */
        dawn_in_flight_fn in_flight;
        void *in_flight_userdata;
        int64_t *ids;
        uint64_t interval;
};

static void on_committed(int r, void *owner)
{
        struct dawn_heartbeat *h = owner;
        if (r < 0 && !h->failing)
                log_warning_errno(r, "node: heartbeat not stored (%m); its claims' leases run on");
        else if (r == 0 && h->failing)
                log_info("node: heartbeat stored again");
        h->failing = r < 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct dawn_heartbeat *h = userdata;
        int64_t now = dawn_now_usec();
        int reclaimed = 0;
        int r = dawn_commit_begin(h->commit);
        if (r == 0) {
                size_t n = h->in_flight(h->in_flight_userdata, h->ids, DAWN_HEARTBEAT_IDS_MAX);
                r = dawn_store_node_heartbeat(h->store, DAWN_VERSION, false, now, h->ids, n);
                if (r == 0)
                        r = reclaimed = dawn_store_reclaim_expired(h->store, now);
                r = dawn_commit_end(h->commit, r);
        }
        if (reclaimed > 0)
                log_notice("node: %d delivery(ies) claimed by a node that stopped answering go out again", reclaimed);
        if (r < 0)
                on_committed(r, h);
        else if (!dawn_ticket_pending(&h->ticket))
                dawn_commit_ticket(h->commit, &h->ticket, on_committed, h);
        sd_event_source_set_time_relative(s, h->interval);
        return 0;
}

int dawn_heartbeat_new(sd_event *loop, struct dawn_store *store, struct dawn_commit *commit,
                       dawn_in_flight_fn in_flight, void *userdata, struct dawn_heartbeat **out)
{
        struct dawn_heartbeat *h = calloc(1, sizeof(*h));
        if (!h || !(h->ids = calloc(DAWN_HEARTBEAT_IDS_MAX, sizeof(*h->ids)))) {
                free(h);
                return -ENOMEM;
        }
        h->in_flight = in_flight;
        h->in_flight_userdata = userdata;
        h->loop = sd_event_ref(loop);
        h->store = store;
        h->commit = commit;
        h->interval = (uint64_t)(dawn_store_lease_usec(store) / DAWN_HEARTBEATS_PER_LEASE);
        int r = sd_event_add_time_relative(loop, &h->timer, CLOCK_MONOTONIC, h->interval, 0, on_timer, h);
        if (r < 0) {
                dawn_heartbeat_free(h);
                return r;
        }
        sd_event_source_set_enabled(h->timer, SD_EVENT_ON);
        *out = h;
        return 0;
}

struct dawn_heartbeat *dawn_heartbeat_free(struct dawn_heartbeat *h)
{
        if (!h)
                return NULL;
        dawn_ticket_cancel(&h->ticket);
        sd_event_source_disable_unref(h->timer);
        sd_event_unref(h->loop);
        free(h->ids);
        free(h);
        return NULL;
}
