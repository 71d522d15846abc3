/* This node's heartbeat (issue 15): six times a lease (every 10 s with the
 * default lease of a minute), one write on
 * the one write path says in the store that this dawnd is alive (nodes
 * table: dawnctl status lists the nodes seen), and on PostgreSQL extends the
 * lease on what it has in flight and hands back to the queue whatever a node
 * that stopped beating had claimed (dawn_store_reclaim_expired), so that
 * another node sends it. A missed beat (the database away, a full disk) is
 * logged once and tried again at the next. Each beat that commits also runs
 * the after-write hooks, so the outbox looks for deliveries another node
 * queued (and left, if it died) at least once a beat. */
#ifndef DAWN_HEARTBEAT_H
#define DAWN_HEARTBEAT_H

#include <systemd/sd-event.h>

#include "commit.h"
#include "store.h"

/* Beats to one lease: a node that misses a few (a slow commit, a failover
 * of seconds) keeps its claims. */
#define DAWN_HEARTBEATS_PER_LEASE 6

struct dawn_heartbeat;

/* What the node has in flight: up to max delivery ids into ids, how many
 * (the outbox's, dawn_outbox_in_flight_ids). */
typedef size_t (*dawn_in_flight_fn)(void *userdata, int64_t *ids, size_t max);
/* The claims of the deliveries in flight this many at most are kept alive a
 * beat; any more run out and are sent again (at least once). Far above any
 * configured max_in_flight. */
#define DAWN_HEARTBEAT_IDS_MAX 65536

int dawn_heartbeat_new(sd_event *loop, struct dawn_store *store, struct dawn_commit *commit,
                       dawn_in_flight_fn in_flight, void *userdata, struct dawn_heartbeat **out);
/* NULL-safe; before the commit is freed. */
struct dawn_heartbeat *dawn_heartbeat_free(struct dawn_heartbeat *h);

#endif
