/* Delivery channels behind one driver table.
 *
 * The outbox hands a driver one delivery at a time with send(); the driver
 * reports the outcome later, from the event loop, with
 * dawn_channel_complete(). Drivers never touch the store: everything they
 * need is in struct dawn_delivery, and everything they learn goes back
 * through the completion call. A driver that becomes able to send again
 * (the broker came back) calls dawn_channel_ready_changed() so the outbox
 * can start sending what waited.
 */
#ifndef DAWN_CHANNEL_H
#define DAWN_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "escalation_text.h"
#include "model.h"

struct dawn_delivery {
        int64_t id;                /* outbox row id: the same on every attempt */
        const char *alert_id;
        int revision;
        const char *subscriber;    /* "" for the area feed */
        const char *recipient;     /* MQTT topic, phone number or email address */
        enum dawn_delivery_action action;
        const char *alert_json;    /* the alert as it stood at this revision */
        const char *reference;     /* idempotency reference: "<alert>-r<rev>-<row id>" */
        /* an escalation (outbox purpose 'escalation'): what its text says; NULL for the alert's own */
        const struct dawn_escalation_facts *escalation;
        /* a text given as is (an SMS reply to an inbound text: no alert, alert_json NULL); NULL
         * for everything else. Only the SMS channel takes one. */
        const char *text;
};

enum dawn_send_result {
        DAWN_SEND_DELIVERED,       /* the peer has it (MQTT: PUBACK) */
        DAWN_SEND_TRANSIENT,       /* try again later */
        DAWN_SEND_PERMANENT,       /* never try again; the delivery fails */
        /* The provider refuses us, not this delivery (SMS 401/403, SMTP
         * authentication): the outbox pauses the whole channel until a reload
         * or `dawnctl resume`; this delivery waits, unharmed. */
        DAWN_SEND_PAUSE_CREDENTIALS,
        /* The provider's rate limit for the whole account (429): the channel
         * pauses until retry_after_usec (0: the outbox's backoff); this
         * delivery waits. */
        DAWN_SEND_PAUSE_RATE,
        /* The recipient opted out at the provider (Twilio 21610): the number
         * is recorded as opted out and the delivery is opted-out. */
        DAWN_SEND_OPTED_OUT,
};

struct dawn_channel;

struct dawn_channel_driver {
        const char *name;          /* as in config: "mqtt" */
        enum dawn_channel_kind kind;
        size_t state_size;         /* the core allocates this much, zeroed, for the driver */
        /* Starts the driver on loop with cfg. Returns 0 or -errno. */
        int (*start)(struct dawn_channel *ch, sd_event *loop, const struct dawn_config *cfg);
        /* Stops and frees everything the driver made (not the state block itself). */
        void (*stop)(struct dawn_channel *ch);
        /* True while send() can be expected to work (MQTT: connected). */
        bool (*ready)(struct dawn_channel *ch);
        /* Begins one delivery. 0: started, an outcome will follow through
         * dawn_channel_complete() (never from inside send()). -EAGAIN: not now,
         * try again when ready. Other -errno: failed at once (transient). */
        int (*send)(struct dawn_channel *ch, const struct dawn_delivery *d);
        /* A short human-readable state: "connected to 127.0.0.1:1883". */
        const char *(*describe)(struct dawn_channel *ch);
};

typedef void (*dawn_channel_complete_fn)(struct dawn_channel *ch, int64_t delivery_id,
                                         enum dawn_send_result result, const char *error,
                                         uint64_t retry_after_usec, void *userdata);
typedef void (*dawn_channel_ready_fn)(struct dawn_channel *ch, void *userdata);

/* Work a driver did, counted for tests that assert it (bench/ measures the
 * time it takes): a text rendered once per revision is one render, however
 * many recipients it went to. */
struct dawn_channel_work {
        uint64_t texts_rendered;   /* SMS texts, email subjects and bodies built */
        uint64_t tokens_signed;    /* bearer tokens signed (GOV.UK Notify's JWT) */
};

struct dawn_channel {
        const struct dawn_channel_driver *driver;
        void *state;               /* driver->state_size bytes */
        struct dawn_channel_work work;
        dawn_channel_complete_fn on_complete;
        dawn_channel_ready_fn on_ready;
        void *userdata;
};

/* The built-in drivers, NULL-terminated. */
extern const struct dawn_channel_driver *const dawn_channel_drivers[];
const struct dawn_channel_driver *dawn_channel_driver_find(enum dawn_channel_kind kind);

/* Allocates a channel (and its driver state) and starts it. */
int dawn_channel_new(const struct dawn_channel_driver *driver, sd_event *loop,
                     const struct dawn_config *cfg, dawn_channel_complete_fn on_complete,
                     dawn_channel_ready_fn on_ready, void *userdata, struct dawn_channel **out);
struct dawn_channel *dawn_channel_free(struct dawn_channel *ch);

/* For drivers: reads a secret (password, API key, token) from a file, the
 * whole file without its trailing line ending, at most 1 KiB. The read
 * buffer is zeroed; the caller zeroes and frees *out. Returns 0, -ENODATA
 * for an empty file, -EFBIG for a larger one, -EINVAL for one with a NUL
 * byte (a secret is text) or for what is not a regular file (-EISDIR for a
 * directory), or -errno. */
#define DAWN_SECRET_MAX 1024
int dawn_channel_read_secret(const char *path, char **out);

/* For drivers. */
void dawn_channel_complete(struct dawn_channel *ch, int64_t delivery_id, enum dawn_send_result result,
                           const char *error, uint64_t retry_after_usec);
void dawn_channel_ready_changed(struct dawn_channel *ch);

extern const struct dawn_channel_driver dawn_channel_mqtt;

/* ---- the MQTT channel's way in (MQTT ingest, dashboard acks) ---- */

/* A message on one of the filters given to dawn_channel_mqtt_listen(). */
typedef void (*dawn_mqtt_message_fn)(const char *topic, const void *payload, size_t len, bool retained,
                                     void *userdata);
/* Subscribes (QoS 1) to every filter now and after every reconnect, and
 * calls fn for each message that arrives on them. filters is copied.
 * Returns 0 or -errno. */
int dawn_channel_mqtt_listen(struct dawn_channel *ch, const char *const *filters, size_t n,
                             dawn_mqtt_message_fn fn, void *userdata);
/* Publishes outside the outbox (answers on .../ingest/<source>/result):
 * QoS 1, best effort: -ENOTCONN while the broker is away, and a message not
 * acknowledged before the connection drops is not sent again. */
int dawn_channel_mqtt_publish(struct dawn_channel *ch, const char *topic, const void *payload, size_t len,
                              bool retain);
extern const struct dawn_channel_driver dawn_channel_sms, dawn_channel_email;

#endif
