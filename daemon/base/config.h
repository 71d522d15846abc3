/* The configuration: libconfig text -> one immutable struct dawn_config.
 *
 * dawn_config_load() reads and checks the whole file and collects every
 * error (not just the first) as "FILE:LINE: message". A config with any
 * error is never returned: in a safety system a typo must not be ignored.
 * Reload builds a new config this way and swaps it in only if it is valid.
 */
#ifndef DAWN_CONFIG_H
#define DAWN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "model.h"
#include "netaddr.h"

#define DAWN_USEC_PER_SEC UINT64_C(1000000)

struct dawn_area {
        char *id;        /* e.g. "southampton" */
        int parent;      /* index into dawn_config.areas, -1 for a root */
        int depth;       /* 0 for a root */
        char *path;      /* "pan-hampshire/southampton": the MQTT topic path */
        int line;
        /* area_details = { <id> = { name; gss; }; }: NULL when not given
         * (dawn_config_area_name() supplies the default name) */
        char *name;      /* "Southampton": what people read in a public text or AREAS reply */
        char *gss;       /* ONS GSS code, "E06000045" (E/W/S/N + 8 digits), for CAP */
};

struct dawn_subscriber {
        char *id;
        char *kind;              /* hostel, pharmacy, outreach, treatment, public-health, or the operator's word */
        int area;                /* index into dawn_config.areas */
        char **sms;              /* E.164 numbers, "+447700900123" */
        size_t n_sms;
        char **email;
        size_t n_email;
        bool mqtt;
        unsigned types;          /* DAWN_TYPE_BIT mask; default batch|cluster */
        enum dawn_grade min_grade; /* default: info for public-health, warning otherwise */
        bool has_quiet_hours;
        int quiet_start_min;     /* minutes after local midnight */
        int quiet_end_min;
        int line;
        /* escalation (README "Escalation"): name is what texts call the subscriber ("Booth
         * House"; default: the id). escalate_after 0 or no escalate_to: never escalated.
         * Both are the subscriber's own keys or, when absent, the global escalation group's
         * (escalate_to without the subscriber itself). */
        char *name;
        uint64_t escalate_after_usec;
        char **escalate_to;      /* subscriber ids, each configured, never the subscriber itself */
        size_t n_escalate_to;
};

enum dawn_source_role { DAWN_ROLE_ISSUER, DAWN_ROLE_REPORTER };

struct dawn_source {
        char *id;
        enum dawn_source_role role;
        char *token_file;        /* the bearer token for the HTTP API; none: this source reports over MQTT only */
        int rate_per_minute;     /* alerts a minute over HTTP and MQTT together (an array's items count
                                  * one each; a GET counts one); 429 beyond; default 1200, 0 no limit */
        bool publish;            /* an issuer that may set scope = "public"; default false */
        int line;
};

/* What the outbox needs to know of every channel (keys of the same names
 * in each channels.X group). */
struct dawn_channel_limits {
        int rate_per_minute;     /* 0: no limit; sms default 3000 (GOV.UK Notify's), others 0 */
        int max_in_flight;       /* deliveries handed to the driver at once; mqtt 1024, sms 32, email 8 */
        uint64_t lifetime_usec;  /* "lifetime": after this a delivery that never went is failed; default 24h */
        uint64_t retry_initial_usec; /* "retry_initial": the wait before the first retry, doubling after; 5s */
};

enum dawn_sms_provider { DAWN_SMS_NOTIFY, DAWN_SMS_TWILIO };

/* Notify refuses texts over 918 characters: 6 GSM-7 parts of 153. */
#define DAWN_NOTIFY_MAX_SEGMENTS 6
/* channels.sms.sender_prefix: a name and a colon, not a paragraph */
#define DAWN_SMS_PREFIX_MAX 40

struct dawn_sms_config {
        bool enabled;            /* channels.sms present */
        enum dawn_sms_provider provider; /* "notify" (default) or "twilio" */
        char *base_url;          /* default https://api.notifications.service.gov.uk or https://api.twilio.com */
        char *api_key_file;      /* notify: the API key, read at start and on reload */
        char *template_id;       /* notify: a template whose body is ((message)) */
        char *account_sid;       /* twilio */
        char *auth_token_file;   /* twilio */
        char *from;              /* twilio: the sending number or messaging service */
        char *callback_token_file; /* notify: the bearer token Notify sends with receipts and replies */
        char *callback_base_url; /* twilio: this API's URL as Twilio calls it ("https://dawn.example.org");
                                  * set, every text asks for a status callback there */
        int max_segments;        /* default 2 (1..10; 1..6 with notify) */
        char *sender_prefix;     /* "DAWN: ": what starts every text (twilio: DAWN adds it; notify: Notify
                                  * adds its service name itself); counted in the budget; NULL: none */
        uint64_t timeout_usec;   /* "timeout": one request, default 30s */
        struct dawn_channel_limits limits;
        char *ca_file;           /* a PEM bundle trusted as well as the system's CAs (ca_file.h); NULL: none */
};

struct dawn_email_config {
        bool enabled;            /* channels.email present */
        char *url;               /* smtp://host:port or smtps://host:port */
        char *from;              /* the From: address */
        char *username;          /* optional */
        char *password_file;     /* optional */
        bool require_tls;        /* "tls": "required" (default) or "none"; "none" is only accepted for
                                  * smtp:// to a loopback address or when tls_override = true */
        uint64_t timeout_usec;   /* "timeout": one message, default 60s */
        struct dawn_channel_limits limits;
        char *ca_file;           /* a PEM bundle trusted as well as the system's CAs (ca_file.h); NULL: none */
};

/* channels.mqtt's TLS (mqtt_tls.h applies it to a libmosquitto client). */
struct dawn_mqtt_tls {
        bool enabled;            /* "tls": "required" (the default unless host is a loopback address) or
                                  * "none" (the default for loopback; elsewhere only with tls_override) */
        char *ca_file;           /* a PEM bundle trusted as well as the system's CAs; NULL: none */
        char *cert_file;         /* a client certificate (PEM), with key_file; NULL: none */
        char *key_file;          /* its private key (PEM, no passphrase); a secret: never logged */
};

struct dawn_mqtt_config {
        bool enabled;            /* channels.mqtt present */
        char *host;              /* default "127.0.0.1" */
        int port;                /* default 1883, or 8883 (MQTT over TLS) when TLS is on */
        char *topic_prefix;      /* default "dawn/v1" */
        int qos;                 /* 1 (default) or 2; 0 is refused: deliveries need PUBACK */
        int keepalive;           /* seconds, default 30 */
        char *client_id;         /* default "dawnd" */
        char *username;          /* optional */
        char *password_file;     /* optional; the password is read by the channel, not here */
        struct dawn_mqtt_tls tls;
        struct dawn_channel_limits limits;
};

/* public = { enabled; min_grade; aliases = { soton = "southampton"; }; max_subscribers;
 * max_joins_per_day; }: texts to anyone who sent JOIN <area> */
struct dawn_public_alias {
        char *alias;             /* lower-cased */
        int area;                /* index into dawn_config.areas */
};
struct dawn_public_config {
        bool enabled;            /* default false */
        enum dawn_grade min_grade; /* default warning */
        struct dawn_public_alias *aliases;
        size_t n_aliases;
        int max_subscribers;     /* numbers subscribed at once; default 10000 */
        int max_joins_per_day;   /* JOINs a number may send a day; beyond, no reply; default 5 */
};

struct dawn_config {
        char *path;

        /* store = { ... } (issue 15) */
        enum dawn_store_backend store_backend; /* default DAWN_STORE_SQLITE: state_dir/dawn.db */
        char *store_conninfo;      /* libpq's conninfo, PostgreSQL only */
        char *store_password_file; /* PostgreSQL only; NULL: libpq's own (.pgpass, peer) */
        uint64_t store_lease_usec; /* PostgreSQL only: a node's claims outlive its last heartbeat by this; 60s */
        uint64_t store_timeout_usec; /* PostgreSQL only: the longest the loop waits for one answer; 5s */

        /* daemon = { ... } */
        char *state_dir;         /* default DAWN_DEFAULT_STATE_DIR */
        char *node_id;           /* this dawnd among several on one store; default: the host's name */
        char *control_socket;    /* default DAWN_DEFAULT_SOCKET */
        char *control_group;     /* default "dawn"; may name a group that does not exist */
        bool has_control_gid;    /* control_group resolved with getgrnam() */
        gid_t control_gid;
        int control_socket_mode; /* default 0660 */
        char *http_listen;       /* default "127.0.0.1:8470"; "" turns the HTTP API off */
        uint64_t http_header_timeout_usec; /* a request's headers must be complete within this; default 10s */
        char *dashboard_dir;     /* the pharmacy dashboard's files, served at /; default DAWN_DEFAULT_DASHBOARD_DIR */
        char *dashboard_broker_url; /* NULL: the page reaches the broker through dawnd's /mqtt relay;
                                     * else a broker's own WebSocket listener, wss://... */
        char **allowed_origins;  /* pages the /mqtt relay serves besides its own site, normalised
                                  * ("https://dawn.example.org", dawn_origin_normalize) */
        size_t n_allowed_origins;
        struct dawn_cidr *trusted_proxies; /* whose X-Forwarded-For names the client (its last address) */
        size_t n_trusted_proxies;

        /* areas = { root = { child = {}; ... }; }; depth-first order, parents first */
        struct dawn_area *areas;
        size_t n_areas;

        /* grading = { high_risk_adulterants = [...]; cluster = { window; threshold; }; } */
        char **high_risk_adulterants; /* lower-cased */
        size_t n_high_risk_adulterants;
        uint64_t cluster_window_usec;  /* default 24h */
        int cluster_threshold;         /* default 3 */
        bool cluster_review;           /* cluster alerts wait in the review queue; default false: straight out */

        /* dedup = { window = "72h"; } */
        uint64_t dedup_window_usec;

        /* expiry = { batch = "14d"; cluster = "7d"; nfod = "72h"; notify = false; } */
        uint64_t expiry_usec[DAWN_TYPE_COUNT];
        bool expiry_notify;      /* text and mail recipients when an alert expires (MQTT is always cleared) */

        struct dawn_mqtt_config mqtt;
        struct dawn_sms_config sms;
        struct dawn_email_config email;
        char *timezone;          /* daemon.timezone: quiet hours are local time here; default "Europe/London" */

        struct dawn_source *sources;
        size_t n_sources;
        struct dawn_subscriber *subscribers;
        size_t n_subscribers;

        /* retention = { deliveries = "90d"; }: an ended alert's delivery details are
         * removed this long after it ended (counts kept) */
        uint64_t retention_deliveries_usec;
        /* escalation = { after; to; grades; }: the defaults of subscribers' escalate_after and
         * escalate_to; grades (DAWN_GRADE_BIT mask) start the clock, default critical only */
        uint64_t escalation_after_usec;
        char **escalation_to;
        size_t n_escalation_to;
        unsigned escalation_grades;
        struct dawn_public_config public_texts;

        /* cap = { sender = "dawn@example.org"; }: CAP 1.2's <sender>, and the start of
         * every identifier; default "dawn@" and the host name */
        char *cap_sender;

        /* private: subscribers by id (open addressing, a power of two slots), so that a
         * lookup per delivery and the duplicate check at load stay O(1) at 10,000 subscribers */
        const struct dawn_subscriber **subscriber_slots;
        size_t n_subscriber_slots;
};

#define DAWN_GRADE_BIT(g) (1u << (g))
/* True if this subscriber is escalated when an alert of this grade goes unacknowledged. */
bool dawn_config_escalates(const struct dawn_config *c, const struct dawn_subscriber *s, enum dawn_grade grade);

/* A growable list of "FILE:LINE: message" strings. */
struct dawn_errors {
        char **msgs;
        size_t n;
};
void dawn_errors_add(struct dawn_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dawn_errors_clear(struct dawn_errors *e);

/* Loads and checks path. On success returns 0 and *out (owned by caller,
 * free with dawn_config_free). On failure returns -EINVAL (or -errno when
 * the file cannot be read), *out is NULL, and errors holds every problem. */
int dawn_config_load(const char *path, struct dawn_config **out, struct dawn_errors *errors);
/* The same from a string (for tests and fuzzing); name is used in messages. */
int dawn_config_load_string(const char *text, const char *name, struct dawn_config **out,
                            struct dawn_errors *errors);
struct dawn_config *dawn_config_free(struct dawn_config *c);

/* The limits of a channel (zeroed limits for one not configured). */
const struct dawn_channel_limits *dawn_config_channel_limits(const struct dawn_config *c,
                                                             enum dawn_channel_kind kind);

/* True if the configuration has the channel (channels.<name> present and enabled). */
bool dawn_channel_configured(const struct dawn_config *c, enum dawn_channel_kind kind);

/* For a reload. True if the channel must restart for fresh to take
 * effect: MQTT only when its settings differ (it keeps its connection
 * otherwise); SMS and email always, as they read their secret files again. */
bool dawn_config_channel_changed(const struct dawn_config *old, const struct dawn_config *fresh,
                                 enum dawn_channel_kind kind);
/* For a reload: daemon.state_dir, node_id, control_socket, http_listen and the
 * store take effect only at a restart, so fresh keeps the running values (swapped: the
 * running config, freed next, gets fresh's). True if fresh asked for other
 * values, which the caller reports. */
bool dawn_config_keep_fixed(struct dawn_config *fresh, struct dawn_config *running);

/* Index of the area with this id, or -1. */
int dawn_config_area_index(const struct dawn_config *c, const char *id);
/* True if area a is b, an ancestor of b, or a descendant of b. */
bool dawn_config_areas_related(const struct dawn_config *c, int a, int b);
const struct dawn_subscriber *dawn_config_subscriber(const struct dawn_config *c, const char *id);
const struct dawn_source *dawn_config_source(const struct dawn_config *c, const char *id);

/* The display name of area idx: area_details' name, or the id with its
 * first letter capitalised and hyphens as spaces ("isle-of-wight" ->
 * "Isle of wight"), written into buf (returned). "" for a bad index. */
const char *dawn_config_area_name(const struct dawn_config *c, int idx, char *buf, size_t n);
/* The area a word names for a public JOIN: an area id, a public alias or a
 * display name, compared case-insensitively with runs of white space as
 * one space. -1 if none. */
int dawn_config_public_area(const struct dawn_config *c, const char *words);

/* daemon.http_listen: "127.0.0.1:8470" or "[::1]:8470" (numeric hosts only:
 * no name lookups at start-up) -> a socket address. 0 or -EINVAL. */
struct sockaddr_storage;
int dawn_parse_listen(const char *text, struct sockaddr_storage *sa, socklen_t *len);

/* "90s", "30m", "24h", "14d" -> microseconds. Returns 0 or -EINVAL. */
int dawn_parse_duration(const char *s, uint64_t *usec);

#endif
