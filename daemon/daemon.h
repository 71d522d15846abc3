/* The daemon as a whole: the loop and everything on it. main.c makes one;
 * the ways in see only its struct dawn_ways (ways.h). */
#ifndef DAWN_DAEMON_H
#define DAWN_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "channel.h"
#include "commit.h"
#include "config.h"
#include "outbox.h"
#include "store.h"
#include "ways.h"

struct dawn_control;
struct dawn_http;
struct dawn_ingest_mqtt;
struct dawn_escalator;

struct dawn_daemon {
        struct dawn_ways ways;           /* loop, config, store, commit, outbox, channels: what the ways in see */
        struct dawn_control *control;
        struct dawn_http *http;          /* the HTTP API; NULL when daemon.http_listen is "" */
        struct dawn_ingest_mqtt *ingest_mqtt; /* rides on channels[DAWN_CHANNEL_MQTT]; NULL without it */
        sd_event_source *watchdog;
        sd_event_source *status_timer;
        sd_event_source *expiry_timer;   /* CLOCK_REALTIME, at the next open alert's expires_at */
        struct dawn_escalator *escalator; /* escalation clocks (escalation.h) */
        struct dawn_heartbeat *heartbeat; /* this node alive in the store, its claims' leases (heartbeat.h) */
        uint64_t watchdog_usec;
        int exit_code;
        int store_lock_fd;               /* <state_dir>/dawnd.lock, held (flock) while the store is open; or -1 */
};

/* Takes ownership of config. Opens the store, starts the channels and the
 * control socket. Returns 0 or -errno (logged). */
int dawn_daemon_new(const char *config_path, struct dawn_config *config, struct dawn_daemon **out);
struct dawn_daemon *dawn_daemon_free(struct dawn_daemon *d);
/* Runs until SIGTERM/SIGINT; returns the exit status. */
int dawn_daemon_run(struct dawn_daemon *d);

/* Re-reads the config file: checks it fully (in a child process, since a
 * malformed @include can make libconfig call exit()), and swaps it in only if
 * valid. Returns 0, or -EINVAL with the errors joined into msg. */
int dawn_daemon_reload(struct dawn_daemon *d, char *msg, size_t n);

/* Sends STATUS= to systemd (and is cheap enough to call after every commit). */
void dawn_daemon_update_status(struct dawn_daemon *d);

#endif
