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

int dawn_heartbeat_new(sd_event *loop, struct dawn_store *store, struct dawn_commit *commit,
                       struct dawn_heartbeat **out);
/* NULL-safe; before the commit is freed. */
struct dawn_heartbeat *dawn_heartbeat_free(struct dawn_heartbeat *h);

#endif
