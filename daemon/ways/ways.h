/* What a way in (the control socket, the HTTP API, MQTT ingest) may use of
 * the daemon. daemon.c owns it and keeps it current (a reload swaps the
 * config here); a way in reads it, writes through commit.c, and never calls
 * up into daemon.c: what it needs of the daemon as a whole (a reload) is a
 * hook here. */
#ifndef DAWN_WAYS_H
#define DAWN_WAYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "channel.h"
#include "commit.h"
#include "config.h"
#include "outbox.h"
#include "store.h"

struct dawn_retention;

struct dawn_ways {
        sd_event *loop;
        struct dawn_config *config;      /* replaced whole on reload */
        char *config_path;               /* these two are daemon.c's to free */
        char *db_path;
        struct dawn_store *store;
        struct dawn_commit *commit;      /* the one write path */
        struct dawn_outbox *outbox;
        struct dawn_channel *channels[DAWN_CHANNEL_COUNT]; /* NULL where not configured */
        int64_t started_at;              /* CLOCK_REALTIME, µs */
        bool stopping;                   /* SIGTERM seen: answer, take nothing new */
        /* "dawnctl reload": checks the config file and swaps it in only if
         * valid; 0, or -EINVAL with the errors joined into msg. */
        int (*reload)(void *userdata, char *msg, size_t n);
        void *reload_userdata;
        struct dawn_retention *retention; /* "dawnctl prune" (retention.h) */
};

#endif
