/* The configuration: see config.h.
 *
 * The loader walks the libconfig tree once and reports every problem it
 * finds rather than stopping at the first, so that an operator running
 * `dawnd -n` sees the whole list at once. Every group's keys are checked
 * against the keys DAWN knows: in a system that warns people about
 * poisoned drugs, a misspelt key must not silently fall back to a default.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <libgen.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ca_file.h"
#include "mqtt_tls.h"
#include "dawn/protocol.h"
#include "str.h"
#include "text.h"

#define SEC DAWN_USEC_PER_SEC
#define AREA_ID_MAX 40
#define AREA_DEPTH_MAX 8 /* keeps MQTT topics short and bounds the recursion */
#define SUBSCRIBER_ID_MAX 64
#define SUBSCRIBER_NAME_MAX 80  /* a display name goes into texts: a line, not a paragraph */
#define SOURCE_ID_MAX 64
#define DURATION_MAX (3650 * 24 * 3600 * SEC) /* so now + duration cannot overflow */
#define SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define ID_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-"
#define HEX_CHARS "0123456789abcdefABCDEF"
#define PUBLIC_MAX_SUBSCRIBERS_DEFAULT 10000
#define PUBLIC_MAX_JOINS_DEFAULT 5
#define AREA_NAME_MAX 60          /* fits an AREAS reply and a public text */
#define RATE_MAX 1000000          /* per minute; far above any gateway's */
#define LIFETIME_DEFAULT (24 * 3600 * SEC)
#define RETRY_INITIAL_DEFAULT (5 * SEC)
#define REQUEST_TIMEOUT_MAX (10 * 60 * SEC)
/* daemon.http_header_timeout: a client gets this long to send a request's
 * headers (slowloris); past the maximum, slots are held for minutes again */
#define HTTP_HEADER_TIMEOUT_DEFAULT (10 * SEC)
#define HTTP_HEADER_TIMEOUT_MAX (120 * SEC)
#define ZONEINFO_DIR "/usr/share/zoneinfo"
/* a node id is in MQTT client ids and PostgreSQL's application_name (63 bytes) */
#define NODE_ID_MAX 48
#define TIMEZONE_DEFAULT "Europe/London"
#define NOTIFY_BASE_URL "https://api.notifications.service.gov.uk"
#define TWILIO_BASE_URL "https://api.twilio.com"

static const char *const default_high_risk[] = { "nitazene", "fentanyl", "xylazine", "medetomidine" };

static const char *const top_keys[] = {
        "daemon", "areas", "grading", "dedup", "expiry", "channels", "sources", "subscribers", "retention",
        "escalation", "area_details", "public", "cap", "store", NULL,
};
static const char *const store_keys[] = { "backend", "conninfo", "password_file", "lease", "timeout", NULL };
static const char *const daemon_keys[] = {
        "state_dir", "control_socket", "control_group", "control_socket_mode", "http_listen", "timezone",
        "dashboard_dir", "dashboard_broker_url", "http_header_timeout", "allowed_origins", "trusted_proxies", "node_id",
        NULL,
};
static const char *const grading_keys[] = { "high_risk_adulterants", "cluster", NULL };
static const char *const cluster_keys[] = { "window", "threshold", "review", NULL };
static const char *const dedup_keys[] = { "window", NULL };
static const char *const retention_keys[] = { "deliveries", NULL };
static const char *const expiry_keys[] = { "batch", "cluster", "nfod", "notify", NULL };
static const char *const mqtt_keys[] = {
        "host", "port", "topic_prefix", "qos", "keepalive", "client_id", "username", "password_file",
        "rate_per_minute", "max_in_flight", "lifetime", "retry_initial", "tls", "tls_override", "ca_file",
        "cert_file", "key_file", NULL,
};
static const char *const sms_keys[] = {
        "provider", "base_url", "api_key_file", "template_id", "account_sid", "auth_token_file", "from",
        "max_segments", "timeout", "rate_per_minute", "max_in_flight", "lifetime", "retry_initial",
        "callback_token_file", "callback_base_url", "ca_file", "sender_prefix", NULL,
};
/* The keys only one provider has: given for the other, they are a mistake. */
static const char *const sms_notify_keys[] = { "api_key_file", "template_id", "callback_token_file", NULL };
static const char *const sms_twilio_keys[] = { "account_sid", "auth_token_file", "from", "callback_base_url", NULL };
static const char *const email_keys[] = {
        "url", "from", "username", "password_file", "tls", "tls_override", "timeout", "rate_per_minute",
        "max_in_flight", "lifetime", "retry_initial", "ca_file", NULL,
};
static const char *const source_keys[] = { "id", "role", "token_file", "rate_per_minute", "publish", NULL };
static const char *const subscriber_keys[] = {
        "id", "kind", "area", "sms", "email", "mqtt", "types", "min_grade", "quiet_hours",
        "name", "escalate_after", "escalate_to", NULL,
};
static const char *const escalation_keys[] = { "after", "to", "grades", NULL };

struct loader {
        const char *name;          /* FILE in messages when libconfig knows none */
        struct dawn_config *c;
        struct dawn_errors *errors;
        /* Counted apart from errors->n: a message lost to ENOMEM must
         * still fail the load. */
        unsigned n_errors;
        bool oom;
        char path[512];            /* scratch for path_of() */
};

void dawn_errors_add(struct dawn_errors *e, const char *fmt, ...)
{
        char **msgs;
        char *msg;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return;
        msgs = realloc(e->msgs, (e->n + 1) * sizeof(*msgs));
        if (!msgs) {
                free(msg);
                return;
        }
        msgs[e->n++] = msg;
        e->msgs = msgs;
}

void dawn_errors_clear(struct dawn_errors *e)
{
        if (!e)
                return;
        for (size_t i = 0; i < e->n; i++)
                free(e->msgs[i]);
        free(e->msgs);
        e->msgs = NULL;
        e->n = 0;
}

int dawn_parse_listen(const char *text, struct sockaddr_storage *sa, socklen_t *len)
{
        char host[64];
        const char *colon = strrchr(text, ':');
        if (!colon || colon == text || strlen(text) >= sizeof(host))
                return -EINVAL;
        char *end;
        errno = 0;
        long port = strtol(colon + 1, &end, 10);
        if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
                return -EINVAL;
        size_t n = (size_t)(colon - text);
        const char *h = text;
        if (text[0] == '[') {
                if (n < 3 || text[n - 1] != ']')
                        return -EINVAL;
                h = text + 1;
                n -= 2;
        }
        memcpy(host, h, n);
        host[n] = '\0';
        memset(sa, 0, sizeof(*sa));
        struct sockaddr_in *in4 = (struct sockaddr_in *)sa;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
        if (text[0] != '[' && inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
                in4->sin_family = AF_INET;
                in4->sin_port = htons((uint16_t)port);
                *len = sizeof(*in4);
                return 0;
        }
        if (text[0] == '[' && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t)port);
                *len = sizeof(*in6);
                return 0;
        }
        return -EINVAL;
}

int dawn_parse_duration(const char *s, uint64_t *usec)
{
        static const struct {
                char unit;
                uint64_t usec;
        } units[] = { { 's', SEC }, { 'm', 60 * SEC }, { 'h', 3600 * SEC }, { 'd', 86400 * SEC } };
        uint64_t n = 0;

        if (!s || !usec || *s < '0' || *s > '9')
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
                if (n > DURATION_MAX)
                        return -EINVAL;
                n = n * 10 + (uint64_t)(*s - '0');
        }
        if (n == 0 || s[0] == '\0' || s[1] != '\0')
                return -EINVAL;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                if (units[i].unit != *s)
                        continue;
                if (n > DURATION_MAX / units[i].usec)
                        return -EINVAL;
                *usec = n * units[i].usec;
                return 0;
        }
        return -EINVAL;
}

/* Scalars inside arrays carry no line of their own; their array's will do. */
static const config_setting_t *located(const config_setting_t *s)
{
        for (; s; s = config_setting_parent(s))
                if (config_setting_source_line(s))
                        return s;
        return NULL;
}

static const char *file_of(const struct loader *l, const config_setting_t *s)
{
        const config_setting_t *at = located(s);
        const char *f = at ? config_setting_source_file(at) : NULL;

        return f ? f : l->name;
}

static int line_of(const config_setting_t *s)
{
        const config_setting_t *at = located(s);

        return at ? config_setting_source_line(at) : 1;
}

static void __attribute__((format(printf, 3, 4)))
fail(struct loader *l, const config_setting_t *at, const char *fmt, ...)
{
        char *msg;
        va_list ap;
        int r;

        l->n_errors++;
        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0) {
                l->oom = true;
                return;
        }
        dawn_errors_add(l->errors, "%s:%d: %s", file_of(l, at), line_of(at), msg);
        free(msg);
}

static void path_write(const config_setting_t *s, char *buf, size_t n)
{
        const config_setting_t *parent = config_setting_parent(s);
        size_t len;

        buf[0] = '\0';
        if (!parent)
                return;
        path_write(parent, buf, n);
        len = strlen(buf);
        if (config_setting_name(s))
                snprintf(buf + len, n - len, "%s%s", len ? "." : "", config_setting_name(s));
        else
                snprintf(buf + len, n - len, "[%d]", config_setting_index(s));
}

/* The name the operator would search the file for: "subscribers[2].area".
 * key, if given, is a member of s that is missing. Valid until the next call. */
static const char *path_of(struct loader *l, const config_setting_t *s, const char *key)
{
        size_t len;

        path_write(s, l->path, sizeof(l->path));
        len = strlen(l->path);
        if (key)
                snprintf(l->path + len, sizeof(l->path) - len, "%s%s", len ? "." : "", key);
        return l->path;
}

static void replace(struct loader *l, char **dst, const char *value)
{
        char *copy = strdup(value);

        if (!copy) {
                l->oom = true;
                return;
        }
        free(*dst);
        *dst = copy;
}

static void strv_free(char **v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}

static bool name_in(const char *name, const char *const *names)
{
        for (; *names; names++)
                if (strcmp(name, *names) == 0)
                        return true;
        return false;
}

static void check_keys(struct loader *l, const config_setting_t *g, const char *const *known)
{
        for (int i = 0; i < config_setting_length(g); i++) {
                config_setting_t *s = config_setting_get_elem(g, i);

                if (!name_in(config_setting_name(s), known))
                        fail(l, s, "unknown key '%s'", path_of(l, s, NULL));
        }
}

static bool valid_id(const char *s, size_t max)
{
        size_t n = strspn(s, ID_CHARS);

        return n > 0 && n <= max && s[n] == '\0';
}

/* The opt_* getters leave *dst alone when the key is absent, so the
 * defaults set beforehand stand. Each returns the setting when it is
 * present and of the right type. */
static config_setting_t *opt_group(struct loader *l, config_setting_t *g, const char *key)
{
        config_setting_t *s = config_setting_get_member(g, key);

        if (s && !config_setting_is_group(s)) {
                fail(l, s, "%s must be a group: %s = { ... };", path_of(l, s, NULL), key);
                return NULL;
        }
        return s;
}

static config_setting_t *opt_string(struct loader *l, config_setting_t *g, const char *key, char **dst,
                                    bool nonempty)
{
        config_setting_t *s = config_setting_get_member(g, key);

        if (!s)
                return NULL;
        if (config_setting_type(s) != CONFIG_TYPE_STRING) {
                fail(l, s, "%s must be a string", path_of(l, s, NULL));
                return NULL;
        }
        if (nonempty && !*config_setting_get_string(s)) {
                fail(l, s, "%s must not be empty", path_of(l, s, NULL));
                return NULL;
        }
        replace(l, dst, config_setting_get_string(s));
        return s;
}

static config_setting_t *req_string(struct loader *l, config_setting_t *g, const char *key, char **dst)
{
        if (!config_setting_get_member(g, key)) {
                fail(l, g, "%s is required", path_of(l, g, key));
                return NULL;
        }
        return opt_string(l, g, key, dst, true);
}

static config_setting_t *opt_int(struct loader *l, config_setting_t *g, const char *key, int *dst, int min,
                                 int max)
{
        config_setting_t *s = config_setting_get_member(g, key);
        long long v;

        if (!s)
                return NULL;
        if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64) {
                fail(l, s, "%s must be an integer", path_of(l, s, NULL));
                return NULL;
        }
        v = config_setting_get_int64(s);
        if (v < min || v > max) {
                fail(l, s, "%s must be between %d and %d", path_of(l, s, NULL), min, max);
                return NULL;
        }
        *dst = (int)v;
        return s;
}

static config_setting_t *opt_bool(struct loader *l, config_setting_t *g, const char *key, bool *dst)
{
        config_setting_t *s = config_setting_get_member(g, key);

        if (!s)
                return NULL;
        if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
                fail(l, s, "%s must be true or false", path_of(l, s, NULL));
                return NULL;
        }
        *dst = config_setting_get_bool(s);
        return s;
}

static config_setting_t *opt_duration(struct loader *l, config_setting_t *g, const char *key, uint64_t *dst)
{
        config_setting_t *s = config_setting_get_member(g, key);
        const char *v;

        if (!s)
                return NULL;
        if (config_setting_type(s) != CONFIG_TYPE_STRING) {
                fail(l, s, "%s must be a string such as \"24h\"", path_of(l, s, NULL));
                return NULL;
        }
        v = config_setting_get_string(s);
        if (dawn_parse_duration(v, dst) < 0) {
                fail(l, s, "%s: invalid duration '%s' (use e.g. 90s, 30m, 24h, 14d)", path_of(l, s, NULL), v);
                return NULL;
        }
        return s;
}

/* A request timeout: longer than max_text would hold a delivery (and a
 * slot of max_in_flight) on a gateway that has stopped answering. */
static void opt_timeout(struct loader *l, config_setting_t *g, const char *key, uint64_t *dst, uint64_t max,
                        const char *max_text)
{
        uint64_t v = *dst;
        config_setting_t *s = opt_duration(l, g, key, &v);

        if (s && v > max)
                fail(l, s, "%s must be at most %s", path_of(l, s, NULL), max_text);
        else if (s)
                *dst = v;
}

/* A file the daemon reads a secret from. It is not read here (the channel
 * reads it, at start and on reload), but a file that is missing now would
 * only be noticed when the first alert has to go: `dawnd -n` says so. */
static void check_readable(struct loader *l, config_setting_t *s, const char *path)
{
        struct stat st;
        int err = 0;

        if (access(path, R_OK) < 0)
                err = errno;
        else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                err = EISDIR;
        if (err)
                fail(l, s, "%s: cannot read %s: %s", path_of(l, s, NULL), path, strerror(err));
}

/* channels.X.ca_file: read and parsed here, so that `dawnd -n`, the start
 * and a reload refuse a bundle the channel could not use (ca_file.c). */
static void opt_ca_file(struct loader *l, config_setting_t *g, char **dst)
{
        config_setting_t *s = opt_string(l, g, "ca_file", dst, true);
        struct dawn_ca *ca = NULL;
        char why[256];

        if (s && dawn_ca_load(*dst, &ca, why, sizeof(why)) < 0)
                fail(l, s, "%s: %s: %s", path_of(l, s, NULL), *dst, why);
        dawn_ca_free(ca);
}

/* Accepts [ ... ] and ( ... ) alike: operators cannot be expected to know
 * which of libconfig's two kinds of list they wrote. */
static config_setting_t *opt_string_list(struct loader *l, config_setting_t *g, const char *key)
{
        config_setting_t *s = config_setting_get_member(g, key);

        if (!s)
                return NULL;
        if (config_setting_is_array(s) || config_setting_is_list(s)) {
                int i, n = config_setting_length(s);

                for (i = 0; i < n; i++)
                        if (config_setting_type(config_setting_get_elem(s, i)) != CONFIG_TYPE_STRING)
                                break;
                if (i == n)
                        return s;
        }
        fail(l, s, "%s must be a list of strings: %s = [ \"...\", \"...\" ];", path_of(l, s, NULL), key);
        return NULL;
}

static config_setting_t *opt_strv(struct loader *l, config_setting_t *g, const char *key, char ***dst,
                                  size_t *n_dst)
{
        config_setting_t *s = opt_string_list(l, g, key);
        size_t n = s ? (size_t)config_setting_length(s) : 0;
        char **v;

        if (!s)
                return NULL;
        v = calloc(n + 1, sizeof(*v));
        if (!v) {
                l->oom = true;
                return NULL;
        }
        for (size_t i = 0; i < n; i++) {
                v[i] = strdup(config_setting_get_string_elem(s, (int)i));
                if (!v[i]) {
                        strv_free(v, i);
                        l->oom = true;
                        return NULL;
                }
        }
        strv_free(*dst, *n_dst);
        *dst = v;
        *n_dst = n;
        return s;
}

/* libconfig reads 0660 as the decimal number 660, so the mode is best
 * written as the string "0660". An integer is taken as it is; one above
 * 0777 is almost surely octal digits read as decimal, and says so. */
static void load_socket_mode(struct loader *l, config_setting_t *g)
{
        config_setting_t *s = config_setting_get_member(g, "control_socket_mode");
        const char *v;
        long mode;

        if (!s)
                return;
        if (config_setting_type(s) == CONFIG_TYPE_INT) {
                mode = config_setting_get_int(s);
                if (mode < 0 || mode > 0777) {
                        fail(l, s, "%s: %ld is not a file mode (libconfig reads 0660 as decimal 660); "
                                   "write it as a string, e.g. \"0660\"", path_of(l, s, NULL), mode);
                        return;
                }
                l->c->control_socket_mode = (int)mode;
                return;
        }
        v = config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : "";
        mode = strtol(v, NULL, 8);
        if (!*v || strlen(v) > 4 || strspn(v, "01234567") != strlen(v) || mode > 0777) {
                fail(l, s, "%s must be an octal mode written as a string, e.g. \"0660\"", path_of(l, s, NULL));
                return;
        }
        l->c->control_socket_mode = (int)mode;
}

/* Quiet hours are local time in this zone. It must be one the C library
 * can load: an unknown zone would silently be UTC, an hour out all summer.
 * Only a name inside the zoneinfo directory is taken, never a path. */
static void load_timezone(struct loader *l, config_setting_t *g)
{
        config_setting_t *s = opt_string(l, g, "timezone", &l->c->timezone, true);
        const char *tz = l->c->timezone;
        char path[sizeof(ZONEINFO_DIR) + 256];
        struct stat st;

        if (!s)
                return;
        if (tz[0] == '/' || strstr(tz, "..") || strlen(tz) > 255 ||
            strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") != strlen(tz)) {
                fail(l, s, "%s: '%s' is not a time zone name (use an IANA name such as \"Europe/London\")",
                     path_of(l, s, NULL), tz);
                return;
        }
        snprintf(path, sizeof(path), "%s/%s", ZONEINFO_DIR, tz);
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                fail(l, s, "%s: unknown time zone '%s' (no file %s; use an IANA name such as "
                           "\"Europe/London\")", path_of(l, s, NULL), tz, path);
}

/* daemon.allowed_origins and daemon.trusted_proxies: what a proxy in front
 * of dawnd needs (README, "Running behind nginx"). */
static void load_proxy_keys(struct loader *l, config_setting_t *g)
{
        struct dawn_config *c = l->c;
        config_setting_t *s = opt_strv(l, g, "allowed_origins", &c->allowed_origins, &c->n_allowed_origins);
        char norm[DAWN_ORIGIN_MAX];

        for (size_t i = 0; s && i < c->n_allowed_origins; i++) {
                if (dawn_origin_normalize(c->allowed_origins[i], norm, sizeof(norm)) < 0) {
                        fail(l, s, "%s: '%s' is not an origin such as \"https://dawn.example.org\" (http or https, "
                                   "a host and an optional port: no path, no trailing /)",
                             path_of(l, s, NULL), c->allowed_origins[i]);
                        continue;
                }
                char *copy = strdup(norm);
                if (!copy) {
                        l->oom = true;
                        return;
                }
                free(c->allowed_origins[i]);
                c->allowed_origins[i] = copy; /* compared as browsers send them */
        }
        s = opt_string_list(l, g, "trusted_proxies");
        if (!s)
                return;
        size_t n = (size_t)config_setting_length(s);
        c->trusted_proxies = calloc(n ? n : 1, sizeof(*c->trusted_proxies));
        if (!c->trusted_proxies) {
                l->oom = true;
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const char *v = config_setting_get_string_elem(s, (int)i);
                if (dawn_cidr_parse(v, &c->trusted_proxies[c->n_trusted_proxies]) == 0)
                        c->n_trusted_proxies++;
                else
                        fail(l, s, "%s: '%s' is not an address or a network such as \"127.0.0.1\", \"::1\" or "
                                   "\"10.0.0.0/8\"", path_of(l, s, NULL), v);
        }
}

/* This host's name as a node id (daemon.node_id's default): lower case, and
 * '-' for anything an id may not hold, so that "DB-Host.example" is
 * "db-host-example". */
static char *default_node_id(void)
{
        char host[256] = "";
        if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
                snprintf(host, sizeof(host), "dawnd");
        host[NODE_ID_MAX] = '\0';
        for (char *p = host; *p; p++)
                *p = (char)(isalnum((unsigned char)*p) ? tolower((unsigned char)*p) : '-');
        return strdup(host);
}

static void load_daemon(struct loader *l, config_setting_t *root)
{
        struct dawn_config *c = l->c;
        config_setting_t *g = opt_group(l, root, "daemon");
        config_setting_t *s;

        if (!g)
                return;
        check_keys(l, g, daemon_keys);
        opt_string(l, g, "state_dir", &c->state_dir, true);
        s = opt_string(l, g, "node_id", &c->node_id, true);
        if (s && !valid_id(c->node_id, NODE_ID_MAX))
                fail(l, s, "%s: '%s' is not a node id: lower-case letters, digits and '-', at most %d", path_of(l, s, NULL),
                     c->node_id, NODE_ID_MAX);
        s = opt_string(l, g, "control_socket", &c->control_socket, true);
        if (s && strlen(c->control_socket) > SOCKET_PATH_MAX)
                fail(l, s, "%s is longer than a Unix socket path can be (%zu bytes)", path_of(l, s, NULL),
                     SOCKET_PATH_MAX);
        opt_string(l, g, "control_group", &c->control_group, false);
        s = opt_string(l, g, "http_listen", &c->http_listen, false);
        if (s && *c->http_listen) {
                struct sockaddr_storage sa;
                socklen_t len;
                if (dawn_parse_listen(c->http_listen, &sa, &len) < 0)
                        fail(l, s, "%s: '%s' is not an address and port such as \"127.0.0.1:8470\" or "
                                   "\"[::1]:8470\" (\"\" turns the HTTP API off)", path_of(l, s, NULL), c->http_listen);
        }
        s = opt_duration(l, g, "http_header_timeout", &c->http_header_timeout_usec);
        if (s && (c->http_header_timeout_usec < SEC || c->http_header_timeout_usec > HTTP_HEADER_TIMEOUT_MAX))
                fail(l, s, "%s must be from 1s to %llus", path_of(l, s, NULL),
                     (unsigned long long)(HTTP_HEADER_TIMEOUT_MAX / SEC));
        opt_string(l, g, "dashboard_dir", &c->dashboard_dir, true);
        s = opt_string(l, g, "dashboard_broker_url", &c->dashboard_broker_url, true);
        if (s && strncmp(c->dashboard_broker_url, "ws://", 5) != 0 && strncmp(c->dashboard_broker_url, "wss://", 6) != 0)
                fail(l, s, "%s: '%s' must start with ws:// or wss:// (a broker's own WebSocket listener)",
                     path_of(l, s, NULL), c->dashboard_broker_url);
        load_socket_mode(l, g);
        load_timezone(l, g);
        load_proxy_keys(l, g);
}

/* A group that does not exist is not an error: the daemon then leaves the
 * socket's group alone, and a config can be checked on another machine. */
static void resolve_control_group(struct dawn_config *c)
{
        struct group *gr;

        if (!c->control_group || !*c->control_group)
                return;
        gr = getgrnam(c->control_group);
        if (!gr)
                return;
        c->has_control_gid = true;
        c->control_gid = gr->gr_gid;
}

static int add_area(struct loader *l, const char *id, int parent, int depth, int line)
{
        struct dawn_config *c = l->c;
        struct dawn_area *areas, *a;

        areas = realloc(c->areas, (c->n_areas + 1) * sizeof(*areas));
        if (!areas) {
                l->oom = true;
                return -ENOMEM;
        }
        c->areas = areas;
        a = &areas[c->n_areas];
        *a = (struct dawn_area){ .parent = parent, .depth = depth, .line = line };
        a->id = strdup(id);
        if (parent < 0)
                a->path = strdup(id);
        else if (asprintf(&a->path, "%s/%s", areas[parent].path, id) < 0)
                a->path = NULL;
        if (!a->id || !a->path) {
                free(a->id);
                free(a->path);
                l->oom = true;
                return -ENOMEM;
        }
        return (int)c->n_areas++;
}

static void load_area(struct loader *l, config_setting_t *s, int parent, int depth)
{
        const char *id = config_setting_name(s);
        int first, self;

        if (!config_setting_is_group(s)) {
                fail(l, s, "%s must be a group (write %s = {}; for an area without sub-areas)",
                     path_of(l, s, NULL), id);
                return;
        }
        if (!valid_id(id, AREA_ID_MAX))
                fail(l, s, "invalid area id '%s' (lower-case letters, digits and '-', at most %d)", id,
                     AREA_ID_MAX);
        first = dawn_config_area_index(l->c, id);
        if (first >= 0)
                fail(l, s, "duplicate area id '%s' (first at line %d)", id, l->c->areas[first].line);
        if (depth >= AREA_DEPTH_MAX) {
                fail(l, s, "%s: areas are nested more than %d deep", path_of(l, s, NULL), AREA_DEPTH_MAX);
                return;
        }
        self = add_area(l, id, parent, depth, line_of(s));
        if (self < 0)
                return;
        for (int i = 0; i < config_setting_length(s); i++)
                load_area(l, config_setting_get_elem(s, i), self, depth + 1);
}

static void load_areas(struct loader *l, config_setting_t *root)
{
        config_setting_t *g = config_setting_get_member(root, "areas");

        if (!g) {
                fail(l, root, "areas is required: areas = { county = { town = {}; }; };");
                return;
        }
        if (!config_setting_is_group(g)) {
                fail(l, g, "areas must be a group: areas = { county = { town = {}; }; };");
                return;
        }
        if (config_setting_length(g) == 0)
                fail(l, g, "areas: at least one area is required");
        for (int i = 0; i < config_setting_length(g); i++)
                load_area(l, config_setting_get_elem(g, i), -1, 0);
}

static void load_high_risk(struct loader *l, config_setting_t *g)
{
        struct dawn_config *c = l->c;
        config_setting_t *s;

        s = opt_strv(l, g, "high_risk_adulterants", &c->high_risk_adulterants, &c->n_high_risk_adulterants);
        if (!s)
                return;
        for (size_t i = 0; i < c->n_high_risk_adulterants; i++) {
                char *a = c->high_risk_adulterants[i];

                if (!*a)
                        fail(l, config_setting_get_elem(s, (int)i), "%s[%zu] must not be empty",
                             path_of(l, s, NULL), i);
                /* ASCII only: the locale must not change what matches. */
                for (; *a; a++)
                        if (*a >= 'A' && *a <= 'Z')
                                *a = (char)(*a - 'A' + 'a');
        }
}

static void load_grading(struct loader *l, config_setting_t *root)
{
        config_setting_t *g = opt_group(l, root, "grading");
        config_setting_t *cluster;

        if (!g)
                return;
        check_keys(l, g, grading_keys);
        load_high_risk(l, g);
        cluster = opt_group(l, g, "cluster");
        if (!cluster)
                return;
        check_keys(l, cluster, cluster_keys);
        opt_duration(l, cluster, "window", &l->c->cluster_window_usec);
        opt_int(l, cluster, "threshold", &l->c->cluster_threshold, 2, 1000000);
        opt_bool(l, cluster, "review", &l->c->cluster_review);
}

static void load_dedup(struct loader *l, config_setting_t *root)
{
        config_setting_t *g = opt_group(l, root, "dedup");

        if (!g)
                return;
        check_keys(l, g, dedup_keys);
        opt_duration(l, g, "window", &l->c->dedup_window_usec);
}

static void load_expiry(struct loader *l, config_setting_t *root)
{
        config_setting_t *g = opt_group(l, root, "expiry");

        if (!g)
                return;
        check_keys(l, g, expiry_keys);
        for (int t = 0; t < DAWN_TYPE_COUNT; t++)
                opt_duration(l, g, dawn_type_name(t), &l->c->expiry_usec[t]);
        opt_bool(l, g, "notify", &l->c->expiry_notify);
}

/* retention = { deliveries = "90d"; }: there is no "never" (storage
 * limitation wants a limit; an operator who must keep longer writes a
 * longer one), and "0" is refused like any zero duration. Seconds are
 * allowed, for tests. */
/* store = { backend = "sqlite"; } (the default: a file in state_dir), or
 * backend = "postgresql" with libpq's conninfo (checked by libpq's own parser)
 * and the password in a file of its own, never in the conninfo. */
static void load_store(struct loader *l, config_setting_t *root)
{
        struct dawn_config *c = l->c;
        config_setting_t *g = opt_group(l, root, "store");
        if (!g)
                return;
        check_keys(l, g, store_keys);
        char *backend = NULL;
        config_setting_t *s = opt_string(l, g, "backend", &backend, true);
        if (s && strcmp(backend, "postgresql") == 0)
                c->store_backend = DAWN_STORE_POSTGRESQL;
        else if (s && strcmp(backend, "sqlite") != 0)
                fail(l, s, "%s: '%s' is not a store backend (\"sqlite\" or \"postgresql\")", path_of(l, s, NULL),
                     backend);
        free(backend);
        config_setting_t *ls = opt_duration(l, g, "lease", &c->store_lease_usec);
        if (ls && (c->store_lease_usec < 3 * SEC || c->store_lease_usec > 600 * SEC))
                fail(l, ls, "%s must be from 3s to 10m (a node's claims outlive it by this much)", path_of(l, ls, NULL));
        config_setting_t *ts = opt_duration(l, g, "timeout", &c->store_timeout_usec);
        if (ts && (c->store_timeout_usec < 1 * SEC || c->store_timeout_usec > 60 * SEC))
                fail(l, ts, "%s must be from 1s to 1m (the event loop waits at most this for the database)",
                     path_of(l, ts, NULL));
        config_setting_t *ci = opt_string(l, g, "conninfo", &c->store_conninfo, true);
        config_setting_t *pw = opt_string(l, g, "password_file", &c->store_password_file, true);
        if (c->store_backend != DAWN_STORE_POSTGRESQL) {
                config_setting_t *only = ci ? ci : pw ? pw : ls ? ls : ts;
                if (only)
                        fail(l, only, "%s is only for backend = \"postgresql\"", path_of(l, only, NULL));
                return;
        }
        if (!ci) {
                fail(l, g, "%s is required with backend = \"postgresql\" (such as \"host=db1,db2 dbname=dawn "
                           "user=dawn target_session_attrs=read-write\")", path_of(l, g, "conninfo"));
                return;
        }
        char *why = NULL;
        PQconninfoOption *opts = PQconninfoParse(c->store_conninfo, &why);
        if (!opts) {
                size_t n = why ? strlen(why) : 0;
                while (n > 0 && why[n - 1] == '\n')
                        why[--n] = '\0';
                fail(l, ci, "%s: %s", path_of(l, ci, NULL), why ? why : "out of memory");
        }
        for (PQconninfoOption *o = opts; o && o->keyword; o++)
                if (strcmp(o->keyword, "password") == 0 && o->val)
                        fail(l, ci, "%s: a password does not belong in the conninfo (it is shown and logged as a "
                                    "setting is): give password_file", path_of(l, ci, NULL));
        PQconninfoFree(opts);
        PQfreemem(why);
        if (pw)
                check_readable(l, pw, c->store_password_file);
}

static void load_retention(struct loader *l, config_setting_t *root)
{
        config_setting_t *g = opt_group(l, root, "retention");

        if (!g)
                return;
        check_keys(l, g, retention_keys);
        opt_duration(l, g, "deliveries", &l->c->retention_deliveries_usec);
}

/* A sender prefix is shown on every handset: no control characters. */
static bool dawn_prefix_printable(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

static bool valid_e164(const char *s)
{
        size_t n = strspn(s + (s[0] == '+'), "0123456789");

        return s[0] == '+' && s[1] != '0' && n >= 8 && n <= 15 && s[1 + n] == '\0';
}

/* Not RFC 5322: enough to refuse what would break a mail header or a
 * command line, and the obvious typos. */
static bool valid_email(const char *s)
{
        const char *at = strchr(s, '@');

        if (!at || at == s || !at[1] || strchr(at + 1, '@'))
                return false;
        for (; *s; s++)
                if ((unsigned char)*s <= ' ' || *s == 0x7f || strchr("<>,;", *s))
                        return false;
        return true;
}

/* prefix followed by exactly n hex digits: Twilio's SIDs. */
static bool valid_sid(const char *s, const char *prefix, size_t n)
{
        size_t p = strlen(prefix);

        return strncmp(s, prefix, p) == 0 && strspn(s + p, HEX_CHARS) == n && s[p + n] == '\0';
}

/* 8-4-4-4-12 hex digits, as GOV.UK Notify shows a template's id. */
static bool valid_uuid(const char *s)
{
        static const size_t groups[] = { 8, 4, 4, 4, 12 };

        for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
                if (strspn(s, HEX_CHARS) != groups[i])
                        return false;
                s += groups[i];
                if (*s != (i == 4 ? '\0' : '-'))
                        return false;
                s += i < 4;
        }
        return true;
}

/* Loopback by its literal address (or "localhost"): nothing sent there
 * leaves the machine. */
static bool is_loopback(const char *host)
{
        struct in6_addr a6;
        struct in_addr a4;

        if (strcasecmp(host, "localhost") == 0)
                return true;
        if (inet_pton(AF_INET, host, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        if (inet_pton(AF_INET6, host, &a6) == 1)
                return IN6_IS_ADDR_LOOPBACK(&a6) ||
                       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
        return false;
}

struct url {
        char host[256];          /* without the brackets of an IPv6 literal */
        const char *rest;        /* what follows host[:port]: "", "/path"... */
        bool loopback;
};

/* Splits "scheme://host[:port]rest" (the caller has matched the scheme;
 * p points after "://"). Returns NULL, or why the URL is refused. */
static const char *split_url(const char *url, const char *p, struct url *u)
{
        size_t authority = strcspn(p, "/?#"), n;
        const char *end;

        for (const char *q = url; *q; q++)
                if ((unsigned char)*q <= ' ' || *q == 0x7f)
                        return "must not contain spaces or control characters";
        if (memchr(p, '@', authority))
                return "must not contain a user name or password";
        if (*p == '[') {
                struct in6_addr a6;

                end = memchr(p, ']', authority);
                n = end ? (size_t)(end - p - 1) : 0;
                if (!end || n >= sizeof(u->host))
                        return "has an invalid IPv6 address";
                memcpy(u->host, p + 1, n);
                u->host[n] = '\0';
                if (inet_pton(AF_INET6, u->host, &a6) != 1)
                        return "has an invalid IPv6 address";
                p = end + 1;
        } else {
                n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-");
                if (n == 0)
                        return "has no host";
                if (n >= sizeof(u->host))
                        return "has a host name that is too long";
                memcpy(u->host, p, n);
                u->host[n] = '\0';
                p += n;
        }
        if (*p == ':') {
                long port = 0;

                n = strspn(++p, "0123456789");
                for (size_t i = 0; i < n && port <= 65535; i++)
                        port = port * 10 + (p[i] - '0');
                if (n == 0 || port < 1 || port > 65535)
                        return "has an invalid port";
                p += n;
        }
        if (*p && !strchr("/?#", *p))
                return "has an invalid host";
        u->rest = p;
        u->loopback = is_loopback(u->host);
        return NULL;
}

/* The outbox's keys, the same in every channel. */
static void load_limits(struct loader *l, config_setting_t *g, struct dawn_channel_limits *lim, int rate,
                        int in_flight, int in_flight_max)
{
        lim->rate_per_minute = rate;
        lim->max_in_flight = in_flight;
        lim->lifetime_usec = LIFETIME_DEFAULT;
        lim->retry_initial_usec = RETRY_INITIAL_DEFAULT;
        opt_int(l, g, "rate_per_minute", &lim->rate_per_minute, 0, RATE_MAX);
        opt_int(l, g, "max_in_flight", &lim->max_in_flight, 1, in_flight_max);
        opt_duration(l, g, "lifetime", &lim->lifetime_usec);
        opt_duration(l, g, "retry_initial", &lim->retry_initial_usec);
}

/* The prefix is the first part of every topic DAWN publishes and
 * subscribes to: a wildcard or a stray '/' would change which topics
 * those are. */
static bool valid_topic_prefix(const char *p)
{
        size_t n = strlen(p);

        return n > 0 && !strpbrk(p, "+#") && p[0] != '/' && p[n - 1] != '/';
}

/* The client certificate: both files or neither; each readable, and the
 * key one without a passphrase that belongs to the certificate, so that
 * the error names the key at fault rather than a TLS failure at connect. */
static void load_mqtt_client_cert(struct loader *l, config_setting_t *g)
{
        struct dawn_mqtt_tls *t = &l->c->mqtt.tls;
        config_setting_t *cert = opt_string(l, g, "cert_file", &t->cert_file, true);
        config_setting_t *key = opt_string(l, g, "key_file", &t->key_file, true);
        bool key_at_fault = false;
        char why[256];

        if (cert && !config_setting_get_member(g, "key_file"))
                fail(l, cert, "%s: give key_file too, or neither", path_of(l, cert, NULL));
        if (key && !config_setting_get_member(g, "cert_file"))
                fail(l, key, "%s: give cert_file too, or neither", path_of(l, key, NULL));
        if (!cert || !key)
                return;
        if (dawn_tls_client_check(t->cert_file, t->key_file, &key_at_fault, why, sizeof(why)) < 0)
                fail(l, key_at_fault ? key : cert, "%s: %s: %s", path_of(l, key_at_fault ? key : cert, NULL),
                     key_at_fault ? t->key_file : t->cert_file, why);
}

/* TLS to the broker. The default follows the host: a broker on this
 * machine may be spoken to in clear (nothing leaves it), one elsewhere
 * only over TLS. As for channels.email, "none" towards another host is
 * refused unless tls_override = true says the operator accepts that the
 * password and every alert cross the network in clear. ca_file and a
 * client certificate without TLS are a contradiction, refused rather than
 * ignored. */
static void load_mqtt_tls(struct loader *l, config_setting_t *g, bool port_given)
{
        struct dawn_mqtt_config *m = &l->c->mqtt;
        bool loopback = is_loopback(m->host), override = false;
        char *tls = NULL;
        config_setting_t *s = opt_string(l, g, "tls", &tls, true);
        const char *const files[] = { "ca_file", "cert_file", "key_file" };

        opt_bool(l, g, "tls_override", &override);
        m->tls.enabled = !loopback;
        if (s && strcmp(tls, "none") == 0) {
                if (!loopback && !override)
                        fail(l, s, "%s: \"none\" is only allowed for a loopback broker (127.0.0.1, ::1, "
                                   "localhost); the password and every alert would cross the network in clear "
                                   "(set tls_override = true to accept that)", path_of(l, s, NULL));
                else
                        m->tls.enabled = false;
        } else if (s && strcmp(tls, "required") == 0) {
                m->tls.enabled = true;
        } else if (s) {
                fail(l, s, "%s must be \"required\" or \"none\"", path_of(l, s, NULL));
        }
        free(tls);
        if (!m->tls.enabled) {
                for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                        config_setting_t *f = config_setting_get_member(g, files[i]);
                        if (f)
                                fail(l, f, "%s: TLS is off (tls = \"none\"%s): set tls = \"required\" "
                                           "to use it", path_of(l, f, NULL),
                                     s ? "" : ", the default for a loopback broker");
                }
                return;
        }
        opt_ca_file(l, g, &m->tls.ca_file);
        load_mqtt_client_cert(l, g);
        if (!port_given)
                m->port = DAWN_MQTT_TLS_PORT;
}

static void load_mqtt(struct loader *l, config_setting_t *g)
{
        struct dawn_mqtt_config *m = &l->c->mqtt;
        config_setting_t *s;

        if (!config_setting_is_group(g)) {
                fail(l, g, "%s must be a group: mqtt = { host = \"127.0.0.1\"; };", path_of(l, g, NULL));
                return;
        }
        check_keys(l, g, mqtt_keys);
        m->enabled = true;
        opt_string(l, g, "host", &m->host, true);
        bool port_given = opt_int(l, g, "port", &m->port, 1, 65535) != NULL;
        s = opt_string(l, g, "topic_prefix", &m->topic_prefix, true);
        if (s && !valid_topic_prefix(m->topic_prefix))
                fail(l, s, "%s must not contain '+' or '#' nor start or end with '/'", path_of(l, s, NULL));
        s = config_setting_get_member(g, "qos");
        if (s && (config_setting_type(s) != CONFIG_TYPE_INT || config_setting_get_int(s) < 1 ||
                  config_setting_get_int(s) > 2))
                fail(l, s, "%s must be 1 or 2: deliveries are confirmed by PUBACK", path_of(l, s, NULL));
        else if (s)
                m->qos = config_setting_get_int(s);
        opt_int(l, g, "keepalive", &m->keepalive, 5, 3600);
        opt_string(l, g, "client_id", &m->client_id, true);
        opt_string(l, g, "username", &m->username, true);
        opt_string(l, g, "password_file", &m->password_file, true);
        load_mqtt_tls(l, g, port_given);
        load_limits(l, g, &m->limits, 0, 1024, 16384);
}

/* The gateway's API key goes with every request: over plain http it must
 * not leave the machine (a local test gateway or a TLS-terminating proxy
 * on loopback is fine). */
static void check_base_url(struct loader *l, config_setting_t *s, char *url)
{
        bool https = strncmp(url, "https://", 8) == 0;
        const char *why;
        struct url u;

        if (!https && strncmp(url, "http://", 7) != 0) {
                fail(l, s, "%s: '%s' must start with https:// (or http:// for a loopback address)",
                     path_of(l, s, NULL), url);
                return;
        }
        why = split_url(url, url + (https ? 8 : 7), &u);
        if (!why && strpbrk(u.rest, "?#"))
                why = "must not have a query or fragment: API paths are appended to it";
        if (why) {
                fail(l, s, "%s: '%s' %s", path_of(l, s, NULL), url, why);
                return;
        }
        if (!https && !u.loopback) {
                fail(l, s, "%s: '%s': http:// is only allowed for a loopback address (127.0.0.1, ::1, "
                           "localhost); the API key would cross the network in clear",
                     path_of(l, s, NULL), url);
                return;
        }
        /* API paths are appended as "/v2/...": no trailing '/'. */
        url[dawn_url_base_len(url)] = '\0';
}

/* Keys of the provider not chosen: most likely a half-finished switch from
 * one provider to the other. */
static void refuse_keys(struct loader *l, config_setting_t *g, const char *const *keys, const char *owner,
                        const char *provider)
{
        for (; *keys; keys++) {
                config_setting_t *s = config_setting_get_member(g, *keys);

                if (s)
                        fail(l, s, "%s is a %s key; provider is %s", path_of(l, s, NULL), owner, provider);
        }
}

static void load_sms_notify(struct loader *l, config_setting_t *g)
{
        struct dawn_sms_config *sms = &l->c->sms;
        config_setting_t *s;

        refuse_keys(l, g, sms_twilio_keys, "twilio", "notify");
        s = req_string(l, g, "api_key_file", &sms->api_key_file);
        if (s)
                check_readable(l, s, sms->api_key_file);
        s = req_string(l, g, "template_id", &sms->template_id);
        if (s && !valid_uuid(sms->template_id))
                fail(l, s, "%s: '%s' is not a template id (a UUID such as "
                           "f33517ff-2a88-4f6e-b855-c550268ce08a)", path_of(l, s, NULL), sms->template_id);
        s = opt_string(l, g, "callback_token_file", &sms->callback_token_file, true);
        if (s)
                check_readable(l, s, sms->callback_token_file);
}

static void load_sms_twilio(struct loader *l, config_setting_t *g)
{
        struct dawn_sms_config *sms = &l->c->sms;
        config_setting_t *s;

        refuse_keys(l, g, sms_notify_keys, "notify", "twilio");
        s = req_string(l, g, "account_sid", &sms->account_sid);
        if (s && !valid_sid(sms->account_sid, "AC", 32))
                fail(l, s, "%s: '%s' is not an account SID (\"AC\" and 32 hex digits)", path_of(l, s, NULL),
                     sms->account_sid);
        s = req_string(l, g, "auth_token_file", &sms->auth_token_file);
        if (s)
                check_readable(l, s, sms->auth_token_file);
        s = req_string(l, g, "from", &sms->from);
        if (s && !valid_e164(sms->from) && !valid_sid(sms->from, "MG", 32))
                fail(l, s, "%s: '%s' is neither an E.164 number nor a messaging service SID "
                           "(\"MG\" and 32 hex digits)", path_of(l, s, NULL), sms->from);
        s = opt_string(l, g, "callback_base_url", &sms->callback_base_url, true);
        if (s)
                check_base_url(l, s, sms->callback_base_url);
}

static void load_sms(struct loader *l, config_setting_t *g)
{
        struct dawn_sms_config *sms = &l->c->sms;
        config_setting_t *s;
        char *provider = NULL;
        bool known = true;

        if (!config_setting_is_group(g)) {
                fail(l, g, "%s must be a group: sms = { provider = \"notify\"; ... };", path_of(l, g, NULL));
                return;
        }
        check_keys(l, g, sms_keys);
        sms->enabled = true;
        sms->provider = DAWN_SMS_NOTIFY;
        sms->max_segments = 2;
        sms->timeout_usec = 30 * SEC;
        load_limits(l, g, &sms->limits, 3000, 32, 1024);
        s = opt_string(l, g, "provider", &provider, true);
        if (s && strcmp(provider, "twilio") == 0) {
                sms->provider = DAWN_SMS_TWILIO;
        } else if (s && strcmp(provider, "notify") != 0) {
                fail(l, s, "%s: unknown provider '%s' (use \"notify\" or \"twilio\")", path_of(l, s, NULL),
                     provider);
                known = false;
        } else if (!s && config_setting_get_member(g, "provider")) {
                known = false;   /* not a string: already reported */
        }
        free(provider);
        replace(l, &sms->base_url, sms->provider == DAWN_SMS_TWILIO ? TWILIO_BASE_URL : NOTIFY_BASE_URL);
        s = opt_string(l, g, "base_url", &sms->base_url, true);
        if (s)
                check_base_url(l, s, sms->base_url);
        s = opt_int(l, g, "max_segments", &sms->max_segments, 1, 10);
        /* Notify refuses a text over 918 characters (6 parts): a longer one would fail for good */
        if (s && known && sms->provider == DAWN_SMS_NOTIFY && sms->max_segments > DAWN_NOTIFY_MAX_SEGMENTS)
                fail(l, s, "%s: at most %d with provider \"notify\" (Notify refuses texts over 918 characters)",
                     path_of(l, s, NULL), DAWN_NOTIFY_MAX_SEGMENTS);
        s = opt_string(l, g, "sender_prefix", &sms->sender_prefix, false);
        if (s && (strlen(sms->sender_prefix) > DAWN_SMS_PREFIX_MAX || !dawn_prefix_printable(sms->sender_prefix)))
                fail(l, s, "%s: at most %d bytes of printable text (such as \"DAWN: \")", path_of(l, s, NULL),
                     DAWN_SMS_PREFIX_MAX);
        opt_timeout(l, g, "timeout", &sms->timeout_usec, REQUEST_TIMEOUT_MAX, "10m");
        opt_ca_file(l, g, &sms->ca_file);
        if (!known)
                return;
        if (sms->provider == DAWN_SMS_NOTIFY)
                load_sms_notify(l, g);
        else
                load_sms_twilio(l, g);
}

/* smtp://host[:port] or smtps://host[:port]. Returns whether it is one,
 * and sets *smtps and *loopback. */
static bool check_smtp_url(struct loader *l, config_setting_t *s, const char *url, bool *smtps,
                           bool *loopback)
{
        const char *why;
        struct url u;

        *smtps = strncmp(url, "smtps://", 8) == 0;
        if (!*smtps && strncmp(url, "smtp://", 7) != 0) {
                fail(l, s, "%s: '%s' must start with smtp:// or smtps://", path_of(l, s, NULL), url);
                return false;
        }
        why = split_url(url, url + (*smtps ? 8 : 7), &u);
        if (!why && *u.rest && strcmp(u.rest, "/") != 0)
                why = "must be only a host and port, e.g. smtp://mail.example.org:587";
        if (why) {
                fail(l, s, "%s: '%s' %s", path_of(l, s, NULL), url, why);
                return false;
        }
        *loopback = u.loopback;
        return true;
}

static void load_email_login(struct loader *l, config_setting_t *g)
{
        struct dawn_email_config *m = &l->c->email;
        config_setting_t *user = opt_string(l, g, "username", &m->username, true);
        config_setting_t *pw = opt_string(l, g, "password_file", &m->password_file, true);

        if (pw)
                check_readable(l, pw, m->password_file);
        if (user && !config_setting_get_member(g, "password_file"))
                fail(l, user, "%s: give password_file too, or neither", path_of(l, user, NULL));
        if (pw && !config_setting_get_member(g, "username"))
                fail(l, pw, "%s: give username too, or neither", path_of(l, pw, NULL));
}

/* TLS: implicit with smtps://; with smtp:// "required" means STARTTLS or
 * no mail. Plain text is for a relay on this machine, or an operator who
 * has written down that they accept it. */
static void load_email_tls(struct loader *l, config_setting_t *g, bool url_ok, bool smtps, bool loopback)
{
        struct dawn_email_config *m = &l->c->email;
        char *tls = NULL;
        bool override = false;
        config_setting_t *s = opt_string(l, g, "tls", &tls, true);

        opt_bool(l, g, "tls_override", &override);
        if (s && strcmp(tls, "none") == 0) {
                if (url_ok && smtps)
                        fail(l, s, "%s: \"none\" contradicts smtps://, where TLS is implicit",
                             path_of(l, s, NULL));
                else if (url_ok && !loopback && !override)
                        fail(l, s, "%s: \"none\" is only allowed for a loopback smtp:// server; mail would "
                                   "cross the network in clear (set tls_override = true to accept that)",
                             path_of(l, s, NULL));
                else
                        m->require_tls = false;
        } else if (s && strcmp(tls, "required") != 0) {
                fail(l, s, "%s must be \"required\" or \"none\"", path_of(l, s, NULL));
        }
        free(tls);
}

static void load_email(struct loader *l, config_setting_t *g)
{
        struct dawn_email_config *m = &l->c->email;
        bool url_ok = false, smtps = false, loopback = false;
        config_setting_t *s;

        if (!config_setting_is_group(g)) {
                fail(l, g, "%s must be a group: email = { url = \"smtp://127.0.0.1:25\"; ... };",
                     path_of(l, g, NULL));
                return;
        }
        check_keys(l, g, email_keys);
        m->enabled = true;
        m->require_tls = true;
        m->timeout_usec = 60 * SEC;
        load_limits(l, g, &m->limits, 0, 8, 256);
        s = req_string(l, g, "url", &m->url);
        if (s)
                url_ok = check_smtp_url(l, s, m->url, &smtps, &loopback);
        s = req_string(l, g, "from", &m->from);
        if (s && !valid_email(m->from))
                fail(l, s, "%s: '%s' is not an email address (just the address: no name, '<', '>' or "
                           "line breaks)", path_of(l, s, NULL), m->from);
        load_email_login(l, g);
        load_email_tls(l, g, url_ok, smtps, loopback);
        opt_timeout(l, g, "timeout", &m->timeout_usec, REQUEST_TIMEOUT_MAX, "10m");
        opt_ca_file(l, g, &m->ca_file);
}

static void load_channels(struct loader *l, config_setting_t *root)
{
        config_setting_t *g = opt_group(l, root, "channels");

        if (!g)
                return;
        for (int i = 0; i < config_setting_length(g); i++) {
                config_setting_t *s = config_setting_get_elem(g, i);
                const char *name = config_setting_name(s);
                int kind = dawn_channel_from_name(name);

                if (kind < 0)
                        fail(l, s, "unknown channel '%s'", name);
                else if (kind == DAWN_CHANNEL_MQTT)
                        load_mqtt(l, s);
                else if (kind == DAWN_CHANNEL_SMS)
                        load_sms(l, s);
                else if (kind == DAWN_CHANNEL_EMAIL)
                        load_email(l, s);
        }
}

/* Reports a list entry that is not a group; returns whether it is one. */
static bool entry_is_group(struct loader *l, config_setting_t *e)
{
        if (config_setting_is_group(e))
                return true;
        fail(l, e, "%s must be a group: { id = \"...\"; ... }", path_of(l, e, NULL));
        return false;
}

static config_setting_t *opt_entry_list(struct loader *l, config_setting_t *root, const char *key)
{
        config_setting_t *s = config_setting_get_member(root, key);

        if (s && !config_setting_is_list(s)) {
                fail(l, s, "%s must be a list: %s = ( { id = \"...\"; ... }, ... );", key, key);
                return NULL;
        }
        return s;
}

static void load_source(struct loader *l, config_setting_t *e, struct dawn_source *src)
{
        const struct dawn_source *first;
        config_setting_t *s;
        char *role = NULL;

        check_keys(l, e, source_keys);
        s = req_string(l, e, "id", &src->id);
        if (s && !valid_id(src->id, SOURCE_ID_MAX))
                fail(l, s, "%s: invalid source id '%s' (lower-case letters, digits and '-', at most %d)",
                     path_of(l, s, NULL), src->id, SOURCE_ID_MAX);
        first = s ? dawn_config_source(l->c, src->id) : NULL;
        if (first && first != src)
                fail(l, s, "%s: duplicate source id '%s' (first at line %d)", path_of(l, s, NULL), src->id,
                     first->line);
        /* Required: which sources may issue without review is a decision
         * the operator must write down, not a default. */
        s = req_string(l, e, "role", &role);
        if (s && strcmp(role, "issuer") == 0)
                src->role = DAWN_ROLE_ISSUER;
        else if (s && strcmp(role, "reporter") == 0)
                src->role = DAWN_ROLE_REPORTER;
        else if (s)
                fail(l, s, "%s must be \"issuer\" or \"reporter\"", path_of(l, s, NULL));
        free(role);
        /* the HTTP API reads it when it starts; dawnd -n says now if it could not */
        s = opt_string(l, e, "token_file", &src->token_file, true);
        if (s)
                check_readable(l, s, src->token_file);
        src->rate_per_minute = 1200;
        opt_int(l, e, "rate_per_minute", &src->rate_per_minute, 0, 100000000);
        /* scope = "public" reaches anyone who texted JOIN: only an issuer the
         * operator named may set it; a reporter's report is never public */
        s = opt_bool(l, e, "publish", &src->publish);
        if (s && src->publish && src->role != DAWN_ROLE_ISSUER)
                fail(l, s, "%s: only an issuer may publish (a reporter's report is never public)",
                     path_of(l, s, NULL));
}

static void load_sources(struct loader *l, config_setting_t *root)
{
        struct dawn_config *c = l->c;
        config_setting_t *list = opt_entry_list(l, root, "sources");
        int n = list ? config_setting_length(list) : 0;

        if (n == 0)
                return;
        c->sources = calloc((size_t)n, sizeof(*c->sources));
        if (!c->sources) {
                l->oom = true;
                return;
        }
        for (int i = 0; i < n; i++) {
                config_setting_t *e = config_setting_get_elem(list, i);
                struct dawn_source *src = &c->sources[c->n_sources];

                if (!entry_is_group(l, e))
                        continue;
                src->line = line_of(e);
                src->role = DAWN_ROLE_REPORTER;
                c->n_sources++;
                load_source(l, e, src);
        }
}

static void check_recipients(struct loader *l, config_setting_t *list, bool (*valid)(const char *),
                             const char *what)
{
        for (int i = 0; list && i < config_setting_length(list); i++) {
                config_setting_t *s = config_setting_get_elem(list, i);
                const char *v = config_setting_get_string(s);

                if (!valid(v))
                        fail(l, s, "%s: '%s' is not %s", path_of(l, s, NULL), v, what);
        }
}

bool dawn_channel_configured(const struct dawn_config *c, enum dawn_channel_kind kind)
{
        switch (kind) {
        case DAWN_CHANNEL_MQTT:
                return c->mqtt.enabled;
        case DAWN_CHANNEL_SMS:
                return c->sms.enabled;
        case DAWN_CHANNEL_EMAIL:
                return c->email.enabled;
        case DAWN_CHANNEL_COUNT:
                break;
        }
        return false;
}

/* A subscriber's channel must exist, or its alerts would be queued for
 * a channel that never sends them. */
static void check_channel(struct loader *l, config_setting_t *s, enum dawn_channel_kind kind)
{
        const char *name = dawn_channel_name(kind);

        if (!dawn_channel_configured(l->c, kind))
                fail(l, s, "%s: channel %s is not configured (channels.%s)", path_of(l, s, NULL), name, name);
}

static void load_sub_channels(struct loader *l, config_setting_t *e, struct dawn_subscriber *sub)
{
        config_setting_t *s;

        s = opt_strv(l, e, "sms", &sub->sms, &sub->n_sms);
        check_recipients(l, s, valid_e164, "an E.164 number ('+' and 8 to 15 digits)");
        if (config_setting_get_member(e, "sms"))
                check_channel(l, config_setting_get_member(e, "sms"), DAWN_CHANNEL_SMS);
        s = opt_strv(l, e, "email", &sub->email, &sub->n_email);
        check_recipients(l, s, valid_email, "an email address");
        if (config_setting_get_member(e, "email"))
                check_channel(l, config_setting_get_member(e, "email"), DAWN_CHANNEL_EMAIL);
        s = opt_bool(l, e, "mqtt", &sub->mqtt);
        if (s && sub->mqtt)
                check_channel(l, s, DAWN_CHANNEL_MQTT);
        if (!sub->n_sms && !sub->n_email && !sub->mqtt)
                fail(l, e, "%s: no channel: give sms, email or mqtt = true", path_of(l, e, NULL));
}

static void load_sub_types(struct loader *l, config_setting_t *e, struct dawn_subscriber *sub)
{
        config_setting_t *list = opt_string_list(l, e, "types");
        unsigned types = 0;

        if (!list)
                return;
        for (int i = 0; i < config_setting_length(list); i++) {
                config_setting_t *s = config_setting_get_elem(list, i);
                int t = dawn_type_from_name(config_setting_get_string(s));

                if (t < 0)
                        fail(l, s, "%s: unknown alert type '%s' (use batch, cluster or nfod)",
                             path_of(l, s, NULL), config_setting_get_string(s));
                else
                        types |= DAWN_TYPE_BIT(t);
        }
        if (config_setting_length(list) == 0)
                fail(l, list, "%s must name at least one alert type", path_of(l, list, NULL));
        sub->types = types;
}

static void load_sub_min_grade(struct loader *l, config_setting_t *e, struct dawn_subscriber *sub)
{
        char *name = NULL;
        config_setting_t *s = opt_string(l, e, "min_grade", &name, false);
        int g = s ? dawn_grade_from_name(name) : -1;

        /* "logged" alerts are never sent, so as a threshold it is a mistake. */
        if (s && g > DAWN_GRADE_LOGGED)
                sub->min_grade = (enum dawn_grade)g;
        else if (s)
                fail(l, s, "%s: '%s' is not a grade a subscriber can receive (use info, warning or critical)",
                     path_of(l, s, NULL), name);
        free(name);
}

static bool is_digit(char ch)
{
        return ch >= '0' && ch <= '9';
}

/* "HH:MM" -> minutes after midnight, or -1. */
static int parse_hhmm(const char *s)
{
        int h, m;

        if (!is_digit(s[0]) || !is_digit(s[1]) || s[2] != ':' || !is_digit(s[3]) || !is_digit(s[4]))
                return -1;
        h = (s[0] - '0') * 10 + (s[1] - '0');
        m = (s[3] - '0') * 10 + (s[4] - '0');
        return h < 24 && m < 60 ? h * 60 + m : -1;
}

static void load_sub_quiet_hours(struct loader *l, config_setting_t *e, struct dawn_subscriber *sub)
{
        char *v = NULL;
        config_setting_t *s = opt_string(l, e, "quiet_hours", &v, false);
        int start, end;

        if (!s) {
                free(v);
                return;
        }
        start = strlen(v) == 11 && v[5] == '-' ? parse_hhmm(v) : -1;
        end = start >= 0 ? parse_hhmm(v + 6) : -1;
        if (end < 0 || start == end) {
                fail(l, s, "%s: invalid quiet hours '%s' (use 24-hour HH:MM-HH:MM, e.g. 23:00-07:00)",
                     path_of(l, s, NULL), v);
        } else {
                sub->has_quiet_hours = true;
                sub->quiet_start_min = start;
                sub->quiet_end_min = end;
        }
        free(v);
}

static void index_subscriber(struct dawn_config *c, const struct dawn_subscriber *sub);

static void load_sub_identity(struct loader *l, config_setting_t *e, struct dawn_subscriber *sub)
{
        const struct dawn_subscriber *first;
        config_setting_t *s;

        s = req_string(l, e, "id", &sub->id);
        if (s && !valid_id(sub->id, SUBSCRIBER_ID_MAX))
                fail(l, s, "%s: invalid subscriber id '%s' (lower-case letters, digits and '-', at most %d)",
                     path_of(l, s, NULL), sub->id, SUBSCRIBER_ID_MAX);
        /* public texts are outbox rows of subscriber "public" (public = { ... }) */
        if (s && strcmp(sub->id, "public") == 0)
                fail(l, s, "%s: 'public' is reserved for public text subscribers; choose another id",
                     path_of(l, s, NULL));
        first = s ? dawn_config_subscriber(l->c, sub->id) : NULL;
        if (first && first != sub)
                fail(l, s, "%s: duplicate subscriber id '%s' (first at line %d)", path_of(l, s, NULL), sub->id,
                     first->line);
        /* the broker's ACL (conf/mosquitto) gives rights by login name: one name for both would
         * let a dashboard write reports, or a partner read a pharmacy's alerts */
        const struct dawn_source *same = s ? dawn_config_source(l->c, sub->id) : NULL;
        if (same)
                fail(l, s, "%s: '%s' is also a source's id (line %d); sources and subscribers need different ids",
                     path_of(l, s, NULL), sub->id, same->line);
        else if (s)
                index_subscriber(l->c, sub);
        s = req_string(l, e, "kind", &sub->kind);
        if (s && strspn(sub->kind, "abcdefghijklmnopqrstuvwxyz-") != strlen(sub->kind))
                fail(l, s, "%s: invalid kind '%s' (one word: lower-case letters and '-')", path_of(l, s, NULL),
                     sub->kind);
}

static void load_sub_area(struct loader *l, config_setting_t *e, struct dawn_subscriber *sub)
{
        char *area = NULL;
        config_setting_t *s = req_string(l, e, "area", &area);

        if (s) {
                sub->area = dawn_config_area_index(l->c, area);
                if (sub->area < 0)
                        fail(l, s, "%s: unknown area '%s'", path_of(l, s, NULL), area);
        }
        free(area);
}

/* ---- escalation (issue 13 part 1) ---- */

/* escalation = { after = "15m"; to = [ "duty-officer" ]; grades = [ "critical" ]; }: the ids in
 * to are checked once every subscriber is known (check_escalation). */
static void load_escalation(struct loader *l, config_setting_t *root)
{
        config_setting_t *g = opt_group(l, root, "escalation");

        l->c->escalation_grades = DAWN_GRADE_BIT(DAWN_GRADE_CRITICAL);
        if (!g)
                return;
        check_keys(l, g, escalation_keys);
        opt_duration(l, g, "after", &l->c->escalation_after_usec);
        opt_strv(l, g, "to", &l->c->escalation_to, &l->c->n_escalation_to);
        config_setting_t *list = opt_string_list(l, g, "grades");
        if (!list)
                return;
        unsigned grades = 0;
        for (int i = 0; i < config_setting_length(list); i++) {
                config_setting_t *s = config_setting_get_elem(list, i);
                int grade = dawn_grade_from_name(config_setting_get_string(s));

                if (grade <= DAWN_GRADE_LOGGED)
                        fail(l, s, "%s: '%s' is not a grade that is sent (use info, warning or critical)",
                             path_of(l, list, NULL), config_setting_get_string(s));
                else
                        grades |= DAWN_GRADE_BIT(grade);
        }
        if (config_setting_length(list) == 0)
                fail(l, list, "%s must name at least one grade", path_of(l, list, NULL));
        l->c->escalation_grades = grades;
}

static void load_sub_escalation(struct loader *l, config_setting_t *e, struct dawn_subscriber *sub)
{
        config_setting_t *s = opt_string(l, e, "name", &sub->name, true);

        if (s && strlen(sub->name) > SUBSCRIBER_NAME_MAX)
                fail(l, s, "%s must be at most %d bytes (it goes into texts)", path_of(l, s, NULL),
                     SUBSCRIBER_NAME_MAX);
        opt_duration(l, e, "escalate_after", &sub->escalate_after_usec);
        opt_strv(l, e, "escalate_to", &sub->escalate_to, &sub->n_escalate_to);
}

/* Every id in list (a subscriber's escalate_to, or escalation.to) names a
 * subscriber, and not self (NULL for the global list). */
static void check_escalate_ids(struct loader *l, config_setting_t *list, const char *self)
{
        for (int i = 0; list && i < config_setting_length(list); i++) {
                config_setting_t *s = config_setting_get_elem(list, i);
                const char *id = config_setting_get_string(s);

                if (!dawn_config_subscriber(l->c, id))
                        fail(l, s, "%s[%d]: unknown subscriber '%s'", path_of(l, list, NULL), i, id);
                else if (self && strcmp(id, self) == 0)
                        fail(l, s, "%s[%d]: '%s' cannot escalate to itself", path_of(l, list, NULL), i, id);
        }
}

/* Once every subscriber is loaded: their escalate_to ids exist, and the
 * global defaults fill what a subscriber did not say. */
static void check_escalation(struct loader *l, config_setting_t *root)
{
        struct dawn_config *c = l->c;
        config_setting_t *g = config_setting_get_member(root, "escalation");
        config_setting_t *list = config_setting_get_member(root, "subscribers");
        size_t k = 0;

        if (g && config_setting_is_group(g)) {
                config_setting_t *to = config_setting_get_member(g, "to");

                if (to && (config_setting_is_array(to) || config_setting_is_list(to)))
                        check_escalate_ids(l, to, NULL);
        }
        for (int i = 0; list && config_setting_is_list(list) && i < config_setting_length(list); i++) {
                config_setting_t *e = config_setting_get_elem(list, i);

                if (!config_setting_is_group(e) || k >= c->n_subscribers)
                        continue;
                struct dawn_subscriber *sub = &c->subscribers[k++];
                config_setting_t *to = config_setting_get_member(e, "escalate_to");
                config_setting_t *after = config_setting_get_member(e, "escalate_after");

                if (to && sub->escalate_to)
                        check_escalate_ids(l, to, sub->id);
                if (!sub->name && sub->id)
                        replace(l, &sub->name, sub->id);
                if (!after)
                        sub->escalate_after_usec = c->escalation_after_usec;
                if (!to) {
                        sub->escalate_to = calloc(c->n_escalation_to + 1, sizeof(char *));
                        if (!sub->escalate_to) {
                                l->oom = true;
                                continue;
                        }
                        for (size_t j = 0; j < c->n_escalation_to; j++) {
                                if (sub->id && strcmp(c->escalation_to[j], sub->id) == 0)
                                        continue; /* the duty officer is not escalated to itself */
                                sub->escalate_to[sub->n_escalate_to] = strdup(c->escalation_to[j]);
                                if (!sub->escalate_to[sub->n_escalate_to++])
                                        l->oom = true;
                        }
                }
                /* one without the other is a half-configured escalation that would never fire */
                if (to && sub->n_escalate_to && !sub->escalate_after_usec)
                        fail(l, to, "%s needs escalate_after (or escalation.after)", path_of(l, to, NULL));
                if (after && sub->escalate_after_usec && !sub->n_escalate_to && !to)
                        fail(l, after, "%s needs escalate_to (or escalation.to)", path_of(l, after, NULL));
        }
}

bool dawn_config_escalates(const struct dawn_config *c, const struct dawn_subscriber *s, enum dawn_grade grade)
{
        return s && s->escalate_after_usec > 0 && s->n_escalate_to > 0 && (unsigned)grade < 32 &&
               (c->escalation_grades & DAWN_GRADE_BIT(grade));
}

static void load_subscriber(struct loader *l, config_setting_t *e, struct dawn_subscriber *sub)
{
        check_keys(l, e, subscriber_keys);
        load_sub_identity(l, e, sub);
        load_sub_area(l, e, sub);
        load_sub_channels(l, e, sub);
        load_sub_types(l, e, sub);
        /* Public health wants to see the whole picture, information too. */
        if (sub->kind && strcmp(sub->kind, "public-health") == 0)
                sub->min_grade = DAWN_GRADE_INFO;
        load_sub_min_grade(l, e, sub);
        load_sub_quiet_hours(l, e, sub);
        load_sub_escalation(l, e, sub);
}

static void load_subscribers(struct loader *l, config_setting_t *root)
{
        struct dawn_config *c = l->c;
        config_setting_t *list = opt_entry_list(l, root, "subscribers");
        int n = list ? config_setting_length(list) : 0;

        if (n == 0)
                return;
        c->subscribers = calloc((size_t)n, sizeof(*c->subscribers));
        c->n_subscriber_slots = 16;
        while (c->n_subscriber_slots < 2 * (size_t)n)
                c->n_subscriber_slots *= 2;
        c->subscriber_slots = calloc(c->n_subscriber_slots, sizeof(*c->subscriber_slots));
        if (!c->subscribers || !c->subscriber_slots) {
                l->oom = true;
                return;
        }
        for (int i = 0; i < n; i++) {
                config_setting_t *e = config_setting_get_elem(list, i);
                struct dawn_subscriber *sub = &c->subscribers[c->n_subscribers];

                if (!entry_is_group(l, e))
                        continue;
                sub->area = -1;
                sub->types = DAWN_TYPE_BIT(DAWN_TYPE_BATCH) | DAWN_TYPE_BIT(DAWN_TYPE_CLUSTER);
                sub->min_grade = DAWN_GRADE_WARNING;
                sub->line = line_of(e);
                c->n_subscribers++;
                load_subscriber(l, e, sub);
        }
}

/* ---- public texts (issue 13 part 2): area_details and public ---- */

static const char *const area_detail_keys[] = { "name", "gss", NULL };
static const char *const public_keys[] = {
        "enabled", "min_grade", "aliases", "max_subscribers", "max_joins_per_day", NULL,
};

/* ONS GSS code: E (England), W, S or N, then 8 digits */
static bool valid_gss(const char *s)
{
        if (!s || !s[0] || !strchr("EWSN", s[0]) || strlen(s) != 9)
                return false;
        for (int i = 1; i < 9; i++)
                if (!is_digit(s[i]))
                        return false;
        return true;
}

/* printable, no control characters: it goes into texts and replies */
static bool valid_area_name(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > AREA_NAME_MAX)
                return false;
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

static void load_area_details(struct loader *l, config_setting_t *root)
{
        config_setting_t *g = opt_group(l, root, "area_details");

        for (int i = 0; g && i < config_setting_length(g); i++) {
                config_setting_t *e = config_setting_get_elem(g, i);
                const char *id = config_setting_name(e);
                int idx = dawn_config_area_index(l->c, id);
                struct dawn_area *a;
                config_setting_t *s;

                if (idx < 0) {
                        fail(l, e, "%s: no area '%s' in areas", path_of(l, e, NULL), id);
                        continue;
                }
                if (!config_setting_is_group(e)) {
                        fail(l, e, "%s must be a group: %s = { name = \"...\"; gss = \"E06000045\"; };",
                             path_of(l, e, NULL), id);
                        continue;
                }
                check_keys(l, e, area_detail_keys);
                a = &l->c->areas[idx];
                s = opt_string(l, e, "name", &a->name, true);
                if (s && !valid_area_name(a->name))
                        fail(l, s, "%s: at most %d printable characters", path_of(l, s, NULL), AREA_NAME_MAX);
                s = opt_string(l, e, "gss", &a->gss, true);
                if (s && !valid_gss(a->gss))
                        fail(l, s, "%s: '%s' is not an ONS GSS code (E, W, S or N and 8 digits, e.g. E06000045)",
                             path_of(l, s, NULL), a->gss);
        }
}

static void load_public_aliases(struct loader *l, config_setting_t *g)
{
        struct dawn_public_config *p = &l->c->public_texts;
        config_setting_t *al = opt_group(l, g, "aliases");
        int n = al ? config_setting_length(al) : 0;

        if (n == 0)
                return;
        p->aliases = calloc((size_t)n, sizeof(*p->aliases));
        if (!p->aliases) {
                l->oom = true;
                return;
        }
        for (int i = 0; i < n; i++) {
                config_setting_t *s = config_setting_get_elem(al, i);
                const char *alias = config_setting_name(s);
                const char *target = config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;
                int idx = dawn_config_area_index(l->c, target);

                if (!target) {
                        fail(l, s, "%s must be a string naming an area: %s = \"southampton\";", path_of(l, s, NULL),
                             alias);
                        continue;
                }
                if (idx < 0) {
                        fail(l, s, "%s: no area '%s' in areas", path_of(l, s, NULL), target);
                        continue;
                }
                if (dawn_config_area_index(l->c, alias) >= 0) {
                        fail(l, s, "%s: '%s' is already an area id", path_of(l, s, NULL), alias);
                        continue;
                }
                struct dawn_public_alias *a = &p->aliases[p->n_aliases];
                a->alias = strdup(alias);
                if (!a->alias) {
                        l->oom = true;
                        return;
                }
                for (char *c = a->alias; *c; c++)
                        *c = (char)tolower((unsigned char)*c);
                a->area = idx;
                p->n_aliases++;
        }
}

static void load_public(struct loader *l, config_setting_t *root)
{
        struct dawn_public_config *p = &l->c->public_texts;
        config_setting_t *g = opt_group(l, root, "public");
        char *name = NULL;
        config_setting_t *s;

        if (!g)
                return;
        check_keys(l, g, public_keys);
        opt_bool(l, g, "enabled", &p->enabled);
        s = opt_string(l, g, "min_grade", &name, false);
        if (s) {
                int grade = dawn_grade_from_name(name);
                if (grade > DAWN_GRADE_LOGGED)
                        p->min_grade = (enum dawn_grade)grade;
                else
                        fail(l, s, "%s: '%s' is not a grade that is sent (use info, warning or critical)",
                             path_of(l, s, NULL), name);
        }
        free(name);
        opt_int(l, g, "max_subscribers", &p->max_subscribers, 0, 10000000);
        opt_int(l, g, "max_joins_per_day", &p->max_joins_per_day, 1, 1000);
        load_public_aliases(l, g);
}

/* ---- CAP 1.2 (issue 14): cap = { sender; } ---- */

static const char *const cap_keys[] = { "sender", NULL };
#define CAP_SENDER_MAX 200 /* cap.h's DAWN_CAP_SENDER_MAX */

/* CAP 1.2 section 3.2.1: a sender has no spaces, commas or restricted
 * characters ('<', '&'); printable ASCII, as the identifiers built from it
 * must be too. */
static bool valid_cap_sender(const char *s)
{
        if (!*s || strlen(s) > CAP_SENDER_MAX)
                return false;
        for (; *s; s++)
                if (*s <= ' ' || *s >= 0x7f || *s == ',' || *s == '<' || *s == '&')
                        return false;
        return true;
}

/* The default sender: "dawn@" and this machine's host name, or
 * "dawn@localhost" when that name is not one a sender may hold. */
static int default_cap_sender(struct dawn_config *c)
{
        char host[256] = "";
        char sender[CAP_SENDER_MAX + 1];

        if (gethostname(host, sizeof(host) - 1) < 0)
                host[0] = '\0';
        host[sizeof(host) - 1] = '\0';
        if (snprintf(sender, sizeof(sender), "dawn@%s", host) >= (int)sizeof(sender) || !host[0] ||
            !valid_cap_sender(sender))
                snprintf(sender, sizeof(sender), "dawn@localhost");
        c->cap_sender = strdup(sender);
        return c->cap_sender ? 0 : -ENOMEM;
}

static void load_cap(struct loader *l, config_setting_t *root)
{
        config_setting_t *g = opt_group(l, root, "cap");
        config_setting_t *s;

        if (!g)
                return;
        check_keys(l, g, cap_keys);
        s = opt_string(l, g, "sender", &l->c->cap_sender, false);
        if (s && !valid_cap_sender(l->c->cap_sender))
                fail(l, s, "%s: '%.*s' is not a CAP sender: at most %d printable ASCII characters, with no "
                     "spaces, commas, '<' or '&' (e.g. \"dawn@example.org\")", path_of(l, s, NULL),
                     dawn_utf8_prefix(l->c->cap_sender, 60), l->c->cap_sender, CAP_SENDER_MAX);
}

static int set_defaults(struct dawn_config *c, const char *path)
{
        size_t n = sizeof(default_high_risk) / sizeof(default_high_risk[0]);

        c->control_socket_mode = 0660;
        c->cluster_threshold = 3;
        c->cluster_window_usec = 24 * 3600 * SEC;
        c->dedup_window_usec = 72 * 3600 * SEC;
        c->retention_deliveries_usec = 90 * 86400 * SEC;
        c->expiry_usec[DAWN_TYPE_BATCH] = 14 * 86400 * SEC;
        c->expiry_usec[DAWN_TYPE_CLUSTER] = 7 * 86400 * SEC;
        c->expiry_usec[DAWN_TYPE_NFOD] = 72 * 3600 * SEC;
        c->public_texts.min_grade = DAWN_GRADE_WARNING;
        c->public_texts.max_subscribers = PUBLIC_MAX_SUBSCRIBERS_DEFAULT;
        c->public_texts.max_joins_per_day = PUBLIC_MAX_JOINS_DEFAULT;
        c->mqtt.port = 1883;
        c->mqtt.qos = 1;
        c->mqtt.keepalive = 30;
        c->path = strdup(path);
        c->state_dir = strdup(DAWN_DEFAULT_STATE_DIR);
        c->control_socket = strdup(DAWN_DEFAULT_SOCKET);
        c->control_group = strdup("dawn");
        c->http_listen = strdup("127.0.0.1:8470");
        c->http_header_timeout_usec = HTTP_HEADER_TIMEOUT_DEFAULT;
        c->dashboard_dir = strdup(DAWN_DEFAULT_DASHBOARD_DIR);
        c->timezone = strdup(TIMEZONE_DEFAULT);
        c->mqtt.host = strdup("127.0.0.1");
        c->mqtt.topic_prefix = strdup("dawn/v1");
        c->mqtt.client_id = strdup("dawnd");
        c->node_id = default_node_id();
        c->store_lease_usec = 60 * SEC;
        c->store_timeout_usec = 5 * SEC;
        if (default_cap_sender(c) < 0)
                return -ENOMEM;
        if (!c->path || !c->state_dir || !c->control_socket || !c->control_group || !c->http_listen ||
            !c->dashboard_dir || !c->timezone || !c->mqtt.host || !c->mqtt.topic_prefix || !c->mqtt.client_id ||
            !c->node_id)
                return -ENOMEM;
        c->high_risk_adulterants = calloc(n, sizeof(char *));
        if (!c->high_risk_adulterants)
                return -ENOMEM;
        for (; c->n_high_risk_adulterants < n; c->n_high_risk_adulterants++) {
                size_t i = c->n_high_risk_adulterants;

                c->high_risk_adulterants[i] = strdup(default_high_risk[i]);
                if (!c->high_risk_adulterants[i])
                        return -ENOMEM;
        }
        return 0;
}

static int build(config_t *cfg, const char *name, struct dawn_config **out, struct dawn_errors *errors)
{
        struct loader l = { .name = name, .errors = errors };
        config_setting_t *root = config_root_setting(cfg);

        l.c = calloc(1, sizeof(*l.c));
        if (!l.c || set_defaults(l.c, name) < 0) {
                dawn_config_free(l.c);
                dawn_errors_add(errors, "%s: out of memory", name);
                return -ENOMEM;
        }
        check_keys(&l, root, top_keys);
        load_daemon(&l, root);
        load_areas(&l, root);
        load_grading(&l, root);
        load_dedup(&l, root);
        load_expiry(&l, root);
        load_channels(&l, root);
        load_sources(&l, root);
        load_escalation(&l, root);
        load_subscribers(&l, root);
        load_retention(&l, root);
        load_store(&l, root);
        /* several nodes share a store only on PostgreSQL: each is then its own MQTT client (one
         * client id on two connections makes the broker drop one each time the other logs in) */
        if (l.c->store_backend == DAWN_STORE_POSTGRESQL && !config_setting_lookup(root, "channels.mqtt.client_id")) {
                char *id = NULL;
                if (asprintf(&id, "dawnd-%s", l.c->node_id) < 0)
                        l.oom = true;
                else {
                        free(l.c->mqtt.client_id);
                        l.c->mqtt.client_id = id;
                }
        }
        check_escalation(&l, root);
        load_area_details(&l, root);
        load_public(&l, root);
        load_cap(&l, root);
        if (l.n_errors || l.oom) {
                if (l.oom)
                        dawn_errors_add(errors, "%s: out of memory", name);
                dawn_config_free(l.c);
                return l.n_errors ? -EINVAL : -ENOMEM;
        }
        resolve_control_group(l.c);
        *out = l.c;
        return 0;
}

static int parse_error(const config_t *cfg, const char *name, struct dawn_errors *errors)
{
        const char *file = config_error_file(cfg);

        dawn_errors_add(errors, "%s:%d: %s", file ? file : name, config_error_line(cfg),
                        config_error_text(cfg) ? config_error_text(cfg) : "cannot parse");
        return -EINVAL;
}

/* @include in a file is the operator's business; in a string (tests,
 * fuzzing, text from elsewhere) it would read arbitrary files, and
 * libconfig can exit() on a malformed one. libconfig has no switch for
 * it, so any line that starts like a directive is refused here. */
static int refuse_includes(const char *text, const char *name, struct dawn_errors *errors)
{
        int line = 1, r = 0;

        for (const char *p = text; p; line++) {
                p += strspn(p, " \t");
                if (strncmp(p, "@include", 8) == 0) {
                        dawn_errors_add(errors, "%s:%d: @include is not allowed here", name, line);
                        r = -EINVAL;
                }
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        return r;
}

/* libconfig (1.5, Debian 12) drops a \x00 escape from a string without a
 * word ("ports\x00mouth" is read as "portsmouth") and ends a string at a
 * NUL byte in the file: either way the setting would not be what the file
 * says. Both are refused before libconfig reads the text. A small scanner
 * of libconfig's syntax fed one character at a time, so that a file is
 * read without a buffer: only strings matter, so it follows strings, escapes
 * and the three kinds of comment. (An @include'd file is read by libconfig
 * itself and not scanned.) */
struct nul_scan {
        enum { NS_CODE, NS_SLASH, NS_LINE_COMMENT, NS_BLOCK, NS_BLOCK_STAR, NS_STRING, NS_ESCAPE, NS_HEX } state;
        int line, hex_digits, hex_value;
        int refused;
};

static void nul_scan_feed(struct nul_scan *s, int c, const char *name, struct dawn_errors *errors)
{
        if (c == '\0') {
                dawn_errors_add(errors, "%s:%d: a NUL byte: a configuration file is text, and libconfig would end the "
                                "setting there", name, s->line);
                s->refused++;
                return;
        }
        switch (s->state) {
        case NS_SLASH:
                s->state = c == '/' ? NS_LINE_COMMENT : c == '*' ? NS_BLOCK : NS_CODE;
                if (s->state == NS_CODE) { /* a lone slash: c is code */
                        nul_scan_feed(s, c, name, errors);
                        return;
                }
                break;
        case NS_CODE:
                s->state = c == '"' ? NS_STRING : c == '#' ? NS_LINE_COMMENT : c == '/' ? NS_SLASH : NS_CODE;
                break;
        case NS_LINE_COMMENT:
                if (c == '\n')
                        s->state = NS_CODE;
                break;
        case NS_BLOCK:
        case NS_BLOCK_STAR:
                s->state = c == '*' ? NS_BLOCK_STAR : s->state == NS_BLOCK_STAR && c == '/' ? NS_CODE : NS_BLOCK;
                break;
        case NS_STRING:
                s->state = c == '\\' ? NS_ESCAPE : c == '"' ? NS_CODE : NS_STRING;
                break;
        case NS_ESCAPE:
                s->state = c == 'x' ? NS_HEX : NS_STRING;
                s->hex_digits = s->hex_value = 0;
                break;
        case NS_HEX:
                if (!isxdigit(c)) { /* libconfig refuses it; its message is the better one */
                        s->state = NS_STRING;
                        nul_scan_feed(s, c, name, errors);
                        return;
                }
                s->hex_value = s->hex_value * 16 + (isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
                if (++s->hex_digits < 2)
                        break;
                s->state = NS_STRING;
                if (s->hex_value == 0) {
                        dawn_errors_add(errors, "%s:%d: \\x00 in a string: libconfig would drop it without a word, "
                                        "so the setting would not be what the file says", name, s->line);
                        s->refused++;
                }
                break;
        }
        if (c == '\n')
                s->line++;
}

static int refuse_nul_string(const char *text, const char *name, struct dawn_errors *errors)
{
        struct nul_scan s = { .line = 1 };

        for (const char *p = text; *p; p++)
                nul_scan_feed(&s, (unsigned char)*p, name, errors);
        return s.refused ? -EINVAL : 0;
}

static int refuse_nul_file(FILE *f, const char *name, struct dawn_errors *errors)
{
        struct nul_scan s = { .line = 1 };
        int c;

        while ((c = getc(f)) != EOF)
                nul_scan_feed(&s, c, name, errors);
        if (ferror(f)) {
                dawn_errors_add(errors, "%s: cannot read: %s", name, strerror(errno));
                return -EIO;
        }
        rewind(f);
        return s.refused ? -EINVAL : 0;
}

int dawn_config_load_string(const char *text, const char *name, struct dawn_config **out,
                            struct dawn_errors *errors)
{
        config_t cfg;
        int r;

        *out = NULL;
        if (!name)
                name = "<string>";
        if (!text)
                return -EINVAL;
        r = refuse_includes(text, name, errors);
        if (r == 0)
                r = refuse_nul_string(text, name, errors);
        if (r < 0)
                return r;
        config_init(&cfg);
        if (config_read_string(&cfg, text))
                r = build(&cfg, name, out, errors);
        else
                r = parse_error(&cfg, name, errors);
        config_destroy(&cfg);
        return r;
}

/* Relative @include paths are taken from the config file's directory,
 * which is where an operator would put the included file. */
static void set_include_dir(config_t *cfg, const char *path)
{
        char *copy = strdup(path);

        if (copy)
                config_set_include_dir(cfg, dirname(copy));
        free(copy);
}

int dawn_config_load(const char *path, struct dawn_config **out, struct dawn_errors *errors)
{
        struct stat st;
        config_t cfg;
        FILE *f;
        int r;

        *out = NULL;
        if (!path)
                return -EINVAL;
        /* Opened here rather than by libconfig, which keeps no errno. */
        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                dawn_errors_add(errors, "%s: cannot open: %s", path, strerror(-r));
                return r;
        }
        if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
                fclose(f);
                dawn_errors_add(errors, "%s: is a directory", path);
                return -EISDIR;
        }
        r = refuse_nul_file(f, path, errors);
        if (r < 0) {
                fclose(f);
                return r;
        }
        config_init(&cfg);
        set_include_dir(&cfg, path);
        if (config_read(&cfg, f))
                r = build(&cfg, path, out, errors);
        else
                r = parse_error(&cfg, path, errors);
        config_destroy(&cfg);
        fclose(f);
        return r;
}

struct dawn_config *dawn_config_free(struct dawn_config *c)
{
        if (!c)
                return NULL;
        free(c->path);
        free(c->state_dir);
        free(c->node_id);
        free(c->store_conninfo);
        free(c->store_password_file);
        free(c->control_socket);
        free(c->control_group);
        free(c->http_listen);
        free(c->dashboard_dir);
        free(c->dashboard_broker_url);
        strv_free(c->allowed_origins, c->n_allowed_origins);
        free(c->trusted_proxies);
        for (size_t i = 0; i < c->n_areas; i++) {
                free(c->areas[i].id);
                free(c->areas[i].path);
                free(c->areas[i].name);
                free(c->areas[i].gss);
        }
        for (size_t i = 0; i < c->public_texts.n_aliases; i++)
                free(c->public_texts.aliases[i].alias);
        free(c->public_texts.aliases);
        free(c->areas);
        strv_free(c->high_risk_adulterants, c->n_high_risk_adulterants);
        free(c->mqtt.host);
        free(c->mqtt.topic_prefix);
        free(c->mqtt.client_id);
        free(c->mqtt.username);
        free(c->mqtt.password_file);
        dawn_mqtt_tls_clear(&c->mqtt.tls);
        free(c->sms.base_url);
        free(c->sms.callback_token_file);
        free(c->sms.callback_base_url);
        free(c->sms.sender_prefix);
        free(c->sms.api_key_file);
        free(c->sms.template_id);
        free(c->sms.account_sid);
        free(c->sms.auth_token_file);
        free(c->sms.from);
        free(c->email.url);
        free(c->email.from);
        free(c->email.username);
        free(c->email.password_file);
        free(c->email.ca_file);
        free(c->sms.ca_file);
        free(c->timezone);
        free(c->cap_sender);
        for (size_t i = 0; i < c->n_sources; i++) {
                free(c->sources[i].id);
                free(c->sources[i].token_file);
        }
        free(c->sources);
        for (size_t i = 0; i < c->n_subscribers; i++) {
                struct dawn_subscriber *s = &c->subscribers[i];

                free(s->id);
                free(s->kind);
                strv_free(s->sms, s->n_sms);
                strv_free(s->email, s->n_email);
                free(s->name);
                strv_free(s->escalate_to, s->n_escalate_to);
        }
        strv_free(c->escalation_to, c->n_escalation_to);
        free(c->subscribers);
        free(c->subscriber_slots);
        free(c);
        return NULL;
}

const struct dawn_channel_limits *dawn_config_channel_limits(const struct dawn_config *c,
                                                             enum dawn_channel_kind kind)
{
        static const struct dawn_channel_limits none;

        if (!c)
                return &none;
        switch (kind) {
        case DAWN_CHANNEL_MQTT:
                return &c->mqtt.limits;
        case DAWN_CHANNEL_SMS:
                return &c->sms.limits;
        case DAWN_CHANNEL_EMAIL:
                return &c->email.limits;
        case DAWN_CHANNEL_COUNT:
                break;
        }
        return &none;
}

int dawn_config_area_index(const struct dawn_config *c, const char *id)
{
        for (size_t i = 0; c && id && i < c->n_areas; i++)
                if (strcmp(c->areas[i].id, id) == 0)
                        return (int)i;
        return -1;
}

static bool is_self_or_ancestor(const struct dawn_config *c, int ancestor, int a)
{
        for (; a >= 0; a = c->areas[a].parent)
                if (a == ancestor)
                        return true;
        return false;
}

bool dawn_config_areas_related(const struct dawn_config *c, int a, int b)
{
        if (!c || a < 0 || b < 0 || (size_t)a >= c->n_areas || (size_t)b >= c->n_areas)
                return false;
        return is_self_or_ancestor(c, a, b) || is_self_or_ancestor(c, b, a);
}

static size_t id_hash(const char *id)
{
        uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
        for (; *id; id++)
                h = (h ^ (unsigned char)*id) * UINT64_C(1099511628211);
        return (size_t)h;
}

/* The slot holding id, or the empty slot where it would go. */
static const struct dawn_subscriber **subscriber_slot(const struct dawn_config *c, const char *id)
{
        size_t mask = c->n_subscriber_slots - 1;
        for (size_t i = id_hash(id) & mask;; i = (i + 1) & mask)
                if (!c->subscriber_slots[i] || strcmp(c->subscriber_slots[i]->id, id) == 0)
                        return &c->subscriber_slots[i];
}

/* Makes sub findable by its id (the first of a duplicated id stays). */
static void index_subscriber(struct dawn_config *c, const struct dawn_subscriber *sub)
{
        if (!c->subscriber_slots || !sub->id)
                return;
        const struct dawn_subscriber **slot = subscriber_slot(c, sub->id);
        if (!*slot)
                *slot = sub;
}

const struct dawn_subscriber *dawn_config_subscriber(const struct dawn_config *c, const char *id)
{
        if (!c || !id)
                return NULL;
        if (c->subscriber_slots)
                return *subscriber_slot(c, id);
        for (size_t i = 0; i < c->n_subscribers; i++)
                if (c->subscribers[i].id && strcmp(c->subscribers[i].id, id) == 0)
                        return &c->subscribers[i];
        return NULL;
}

const struct dawn_source *dawn_config_source(const struct dawn_config *c, const char *id)
{
        for (size_t i = 0; c && id && i < c->n_sources; i++)
                if (c->sources[i].id && strcmp(c->sources[i].id, id) == 0)
                        return &c->sources[i];
        return NULL;
}

/* ---- reload ---- */

static bool same_str(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool mqtt_changed(const struct dawn_mqtt_config *a, const struct dawn_mqtt_config *b)
{
        return a->enabled != b->enabled || a->port != b->port || a->qos != b->qos || a->keepalive != b->keepalive ||
               !same_str(a->host, b->host) || !same_str(a->topic_prefix, b->topic_prefix) ||
               !same_str(a->client_id, b->client_id) || !same_str(a->username, b->username) ||
               !same_str(a->password_file, b->password_file) || a->tls.enabled != b->tls.enabled ||
               !same_str(a->tls.ca_file, b->tls.ca_file) || !same_str(a->tls.cert_file, b->tls.cert_file) ||
               !same_str(a->tls.key_file, b->tls.key_file);
}

bool dawn_config_channel_changed(const struct dawn_config *old, const struct dawn_config *fresh,
                                 enum dawn_channel_kind kind)
{
        switch (kind) {
        case DAWN_CHANNEL_MQTT:
                return mqtt_changed(&old->mqtt, &fresh->mqtt);
        case DAWN_CHANNEL_SMS:
        case DAWN_CHANNEL_EMAIL:
                /* their secrets are files, read again at start: the same settings may
                 * name a rotated key */
                return true;
        case DAWN_CHANNEL_COUNT:
                break;
        }
        return false;
}

static bool str_equal(const char *a, const char *b)
{
        return a == b || (a && b && strcmp(a, b) == 0);
}

static void swap_str(char **a, char **b)
{
        char *keep = *a;
        *a = *b;
        *b = keep;
}

bool dawn_config_keep_fixed(struct dawn_config *fresh, struct dawn_config *running)
{
        bool differ = strcmp(fresh->state_dir, running->state_dir) != 0 ||
                      strcmp(fresh->node_id, running->node_id) != 0 ||
                      fresh->store_backend != running->store_backend ||
                      fresh->store_lease_usec != running->store_lease_usec ||
                      fresh->store_timeout_usec != running->store_timeout_usec ||
                      !str_equal(fresh->store_conninfo, running->store_conninfo) ||
                      !str_equal(fresh->store_password_file, running->store_password_file) ||
                      strcmp(fresh->control_socket, running->control_socket) != 0 ||
                      strcmp(fresh->http_listen, running->http_listen) != 0;
        swap_str(&fresh->state_dir, &running->state_dir);
        swap_str(&fresh->control_socket, &running->control_socket);
        swap_str(&fresh->http_listen, &running->http_listen);
        swap_str(&fresh->node_id, &running->node_id); /* its claims and heartbeat are under its id */
        /* the store stays the one dawnd opened: another would be another set of alerts */
        enum dawn_store_backend backend = fresh->store_backend;
        fresh->store_backend = running->store_backend;
        running->store_backend = backend;
        swap_str(&fresh->store_conninfo, &running->store_conninfo);
        swap_str(&fresh->store_password_file, &running->store_password_file);
        uint64_t lease = fresh->store_lease_usec;
        fresh->store_lease_usec = running->store_lease_usec;
        running->store_lease_usec = lease;
        uint64_t timeout = fresh->store_timeout_usec;
        fresh->store_timeout_usec = running->store_timeout_usec;
        running->store_timeout_usec = timeout;
        return differ;
}

/* ---- public texts: area names ---- */

const char *dawn_config_area_name(const struct dawn_config *c, int idx, char *buf, size_t n)
{
        if (n == 0)
                return buf;
        buf[0] = '\0';
        if (!c || idx < 0 || (size_t)idx >= c->n_areas)
                return buf;
        const struct dawn_area *a = &c->areas[idx];
        if (a->name) {
                snprintf(buf, n, "%s", a->name);
                return buf;
        }
        snprintf(buf, n, "%s", a->id);
        for (char *p = buf; *p; p++)
                if (*p == '-')
                        *p = ' ';
        buf[0] = (char)toupper((unsigned char)buf[0]);
        return buf;
}

/* a and b equal, ignoring case and treating runs of spaces and hyphens in
 * either as one space ("Isle of Wight" = "isle-of-wight") */
static bool same_words(const char *a, const char *b)
{
        for (;;) {
                while (*a == ' ' || *a == '-')
                        a++;
                while (*b == ' ' || *b == '-')
                        b++;
                if (!*a || !*b)
                        return !*a && !*b;
                bool sa = false, sb = false;
                for (; *a && *b && *a != ' ' && *a != '-' && *b != ' ' && *b != '-'; a++, b++)
                        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
                                return false;
                sa = !*a || *a == ' ' || *a == '-';
                sb = !*b || *b == ' ' || *b == '-';
                if (!sa || !sb)
                        return false;
        }
}

int dawn_config_public_area(const struct dawn_config *c, const char *words)
{
        char name[AREA_NAME_MAX + AREA_ID_MAX + 8];

        if (!c || !words)
                return -1;
        for (size_t i = 0; i < c->n_areas; i++)
                if (same_words(c->areas[i].id, words) ||
                    same_words(dawn_config_area_name(c, (int)i, name, sizeof(name)), words))
                        return (int)i;
        for (size_t i = 0; i < c->public_texts.n_aliases; i++)
                if (same_words(c->public_texts.aliases[i].alias, words))
                        return c->public_texts.aliases[i].area;
        return -1;
}
