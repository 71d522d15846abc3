/* The words of the domain as C types: alert types, grades, statuses,
 * evidence levels. Each has a name table so JSON, config and SQL use the
 * same spelling. */
#ifndef DAWN_MODEL_H
#define DAWN_MODEL_H

#include <stdbool.h>

enum dawn_type { DAWN_TYPE_BATCH, DAWN_TYPE_CLUSTER, DAWN_TYPE_NFOD, DAWN_TYPE_COUNT };
#define DAWN_TYPE_BIT(t) (1u << (t))

/* Lowest first; comparisons between grades are meaningful. */
enum dawn_grade { DAWN_GRADE_LOGGED, DAWN_GRADE_INFO, DAWN_GRADE_WARNING, DAWN_GRADE_CRITICAL, DAWN_GRADE_COUNT };

enum dawn_status { DAWN_STATUS_PENDING, DAWN_STATUS_ACTIVE, DAWN_STATUS_CANCELLED, DAWN_STATUS_EXPIRED, DAWN_STATUS_COUNT };

/* Strength of evidence, weakest first. */
enum dawn_evidence { DAWN_EVIDENCE_REPORTED, DAWN_EVIDENCE_CLINICAL, DAWN_EVIDENCE_TOXICOLOGY, DAWN_EVIDENCE_COUNT };

enum dawn_scope { DAWN_SCOPE_PROFESSIONAL, DAWN_SCOPE_PUBLIC, DAWN_SCOPE_COUNT };

/* Delivery channels. A subscriber may name one that channels does not
 * configure, and the config check then says "not configured", not "unknown". */
enum dawn_channel_kind { DAWN_CHANNEL_MQTT, DAWN_CHANNEL_SMS, DAWN_CHANNEL_EMAIL, DAWN_CHANNEL_COUNT };

/* One delivery's life (the outbox row's state column). */
enum dawn_delivery_state {
        DAWN_DELIVERY_PENDING,
        DAWN_DELIVERY_INFLIGHT,
        DAWN_DELIVERY_DELIVERED,
        DAWN_DELIVERY_RETRYING,
        DAWN_DELIVERY_FAILED,
        DAWN_DELIVERY_SUPERSEDED, /* a newer revision replaced it before it went */
        DAWN_DELIVERY_SENT,       /* the SMS gateway took it; its delivery receipt has not come yet */
        DAWN_DELIVERY_OPTED_OUT,  /* the number replied STOP: not sent, and shown as such */
        DAWN_DELIVERY_STATE_COUNT,
};

/* What a delivery carries: the alert (new or updated), its withdrawal
 * (cancel, expiry, or an update that moved it out of the recipient's rules),
 * or a notice to a public-health subscriber that a partner's report waits in
 * the review queue. */
enum dawn_delivery_action { DAWN_ACTION_PUBLISH, DAWN_ACTION_WITHDRAW, DAWN_ACTION_REVIEW, DAWN_ACTION_COUNT };

const char *dawn_type_name(enum dawn_type t);
const char *dawn_grade_name(enum dawn_grade g);
const char *dawn_status_name(enum dawn_status s);
const char *dawn_evidence_name(enum dawn_evidence e);
const char *dawn_scope_name(enum dawn_scope s);
const char *dawn_channel_name(enum dawn_channel_kind c);
const char *dawn_delivery_state_name(enum dawn_delivery_state s);
const char *dawn_action_name(enum dawn_delivery_action a);

/* Each returns the enum value, or -1 when name is not one of the names. */
int dawn_type_from_name(const char *name);
int dawn_grade_from_name(const char *name);
int dawn_status_from_name(const char *name);
int dawn_evidence_from_name(const char *name);
int dawn_scope_from_name(const char *name);
int dawn_channel_from_name(const char *name);
int dawn_delivery_state_from_name(const char *name);
int dawn_action_from_name(const char *name);

/* Which database holds the store (config: store = { backend = ... }). */
enum dawn_store_backend {
        DAWN_STORE_SQLITE,     /* a file on this host (path): the embedded default */
        DAWN_STORE_POSTGRESQL, /* a server several dawnd nodes share (conninfo, issue 15) */
};

#endif
