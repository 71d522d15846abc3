#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Every series of every counter, in the order first seen, which is also
 * the order they are written in. The bound keeps a caller that passes
 * something unbounded as a label value (a bug: every label is a word of the
 * domain or an HTTP code) from growing the daemon without limit; a few
 * hundred series is what a busy deployment has. */
#define MAX_SERIES 4096
/* Open addressing over the series: a power of two at least twice
 * MAX_SERIES, so probes stay short even when full. */
#define INDEX_SIZE 8192
/* A label value longer than this is cut (at a character boundary): enough
 * for any word the daemon uses, and it bounds the memory per series. */
#define LABEL_MAX 128

#define USEC_PER_SEC UINT64_C(1000000)

struct counter_family {
        const char *name;
        const char *help;
        const char *label[2]; /* NULL: unused */
};

/* In the order of enum dawn_counter; the names are the header's. */
static const struct counter_family families[DAWN_M_COUNTER_COUNT] = {
        [DAWN_M_INTAKE_ACCEPTED] = { "dawn_intake_accepted_total",
                                     "Alerts and reports accepted, by the way they came in and what became of them.",
                                     { "way", "outcome" } },
        [DAWN_M_INTAKE_REJECTED] = { "dawn_intake_rejected_total",
                                     "Alerts and reports refused, by the way they came in and why.",
                                     { "way", "reason" } },
        [DAWN_M_DELIVERY_ATTEMPTS] = { "dawn_delivery_attempts_total",
                                       "Delivery attempts that ended, by channel and result.",
                                       { "channel", "result" } },
        [DAWN_M_DELIVERY_RETRIES] = { "dawn_delivery_retries_total",
                                      "Deliveries scheduled for another attempt after a transient failure.",
                                      { "channel", NULL } },
        [DAWN_M_DELIVERY_FAILURES] = { "dawn_delivery_failures_total",
                                       "Deliveries that failed for good, by channel and reason.",
                                       { "channel", "reason" } },
        [DAWN_M_RECEIPTS] = { "dawn_receipts_total", "SMS delivery receipts received, by provider and status.",
                              { "provider", "status" } },
        [DAWN_M_CALLBACKS_REFUSED] = { "dawn_callbacks_refused_total",
                                       "Provider callbacks refused, by provider and reason.",
                                       { "provider", "reason" } },
        [DAWN_M_CALLBACKS_IGNORED] = { "dawn_callbacks_ignored_total",
                                       "Provider callbacks answered but ignored, by provider and reason.",
                                       { "provider", "reason" } },
        [DAWN_M_ACKS_IGNORED] = { "dawn_acks_ignored_total",
                                  "Acknowledgements ignored: the alert did not reach who sent them.",
                                  { "via", NULL } },
        [DAWN_M_SMS_REPLIES] = { "dawn_sms_replies_total", "Text messages received from recipients, by kind.",
                                 { "kind", NULL } },
        [DAWN_M_REVIEW_DECISIONS] = { "dawn_review_decisions_total",
                                      "Decisions on reports in the review queue.", { "decision", NULL } },
        [DAWN_M_CLUSTERS_RAISED] = { "dawn_clusters_raised_total",
                                     "Overdose clusters raised from non-fatal overdose reports.", { NULL, NULL } },
        [DAWN_M_HTTP_REQUESTS] = { "dawn_http_requests_total", "HTTP API requests answered, by status code.",
                                   { "code", NULL } },
        [DAWN_M_RELAY_DROPPED] = { "dawn_relay_dropped_total",
                                   "Dashboard relays (/mqtt) closed by dawnd at a limit, by reason.",
                                   { "reason", NULL } },
        [DAWN_M_RELAY_REFUSED] = { "dawn_relay_refused_total", "Upgrades to /mqtt refused, by reason.",
                                   { "reason", NULL } },
        [DAWN_M_RELAY_PAUSED] = { "dawn_relay_paused_total",
                                  "Dashboard relays whose broker side was paused for a browser that read too slowly.",
                                  { NULL, NULL } },
        [DAWN_M_HTTP_DROPPED] = { "dawn_http_connections_dropped_total",
                                  "HTTP connections closed by dawnd before their request was answered, by the "
                                  "limit they hit.",
                                  { "reason", NULL } },
        [DAWN_M_HTTP_ACCEPT_PAUSED] = { "dawn_http_accept_paused_total",
                                        "Times the HTTP listener paused for 0.25 s because dawnd was out of "
                                        "file descriptors.",
                                        { NULL, NULL } },
        [DAWN_M_CONTROL_DROPPED] = { "dawn_control_connections_dropped_total",
                                     "Control socket clients refused or closed by dawnd at a limit, by the limit.",
                                     { "reason", NULL } },
        [DAWN_M_RETENTION_PRUNED] = { "dawn_retention_pruned_total",
                                      "Alerts and deliveries whose delivery details retention removed.",
                                      { "what", NULL } },
        [DAWN_M_ESCALATIONS] = { "dawn_escalations_total",
                                 "Alerts a subscriber did not acknowledge in time, whose escalate_to subscribers "
                                 "were told.",
                                 { NULL, NULL } },
        [DAWN_M_PUBLIC_JOINS] = { "dawn_public_joins_total", "JOIN texts for public alerts, by result.",
                                  { "result", NULL } },
        [DAWN_M_PUBLIC_REFUSED] = { "dawn_public_joins_refused_total",
                                    "JOIN and AREAS texts refused at a limit (full, daily-cap).",
                                    { "reason", NULL } },
        [DAWN_M_CHANNEL_PAUSES] = { "dawn_channel_pauses_total",
                                    "Times a channel paused because its provider refused the whole channel "
                                    "(credentials, rate limit), by channel and reason.",
                                    { "channel", "reason" } },
        [DAWN_M_SMS_REPLY_TEXTS] = { "dawn_sms_reply_texts_total",
                                     "Replies to texts received through GOV.UK Notify, by what became of them.",
                                     { "result", NULL } },
};

#define DROPPED_NAME "dawn_metrics_dropped_series_total"
#define DROPPED_HELP "Counts not recorded because their series could not be kept (series limit or memory)."

struct series {
        enum dawn_counter counter;
        uint32_t hash;
        char *label[2]; /* "" for an unused label */
        uint64_t value;
};

static struct series series[MAX_SERIES];
static size_t n_series;
static uint16_t series_index[INDEX_SIZE]; /* series number + 1; 0: empty */
static uint64_t dropped;

/* The latency histogram's upper bounds, exact in microseconds so that a
 * value on a bound lands in that bucket (le is "less or equal") without a
 * floating-point doubt; then +Inf. */
static const uint64_t latency_bound_usec[] = {
        1000,        2500,         5000,         10000,        25000,        50000,
        100000,      250000,       500000,       1000000,      2500000,      5000000,
        10000000,    30000000,     60000000,     120000000,    300000000,    600000000,
};
static const char *const latency_le[] = {
        "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
        "1",     "2.5",    "5",     "10",   "30",    "60",   "120", "300", "600",
};
#define N_BOUNDS (sizeof(latency_bound_usec) / sizeof(latency_bound_usec[0]))
_Static_assert(N_BOUNDS == sizeof(latency_le) / sizeof(latency_le[0]), "a label for every bound");

#define LATENCY_NAME "dawn_delivery_latency_seconds"
#define LATENCY_HELP "From the alert's acceptance to the peer's acknowledgement of its delivery, by channel."

/* Kept per bucket, not cumulative: one increment per observation, and the
 * running sum is taken when written. The last bucket is +Inf's own. */
static struct latency {
        uint64_t bucket[N_BOUNDS + 1];
        uint64_t count;
        uint64_t sum_usec;
} latency[DAWN_CHANNEL_COUNT];

/* The label value a series is kept under: a counter's unused label is
 * always "" (whatever the caller passed), so every call names one series,
 * and NULL for a used label is the empty value, which Prometheus reads as
 * the label being absent. */
static const char *label_value(enum dawn_counter c, int i, const char *value)
{
        return families[c].label[i] && value ? value : "";
}

/* Bytes of value kept: at most LABEL_MAX, never ending inside a UTF-8
 * character (a continuation byte starts 10xxxxxx). */
static size_t kept_length(const char *value)
{
        size_t n = strnlen(value, LABEL_MAX + 1);
        if (n <= LABEL_MAX)
                return n;
        n = LABEL_MAX;
        while (n > 0 && ((unsigned char)value[n] & 0xC0) == 0x80)
                n--;
        return n;
}

/* FNV-1a over the counter and both kept label values. */
static uint32_t series_hash(enum dawn_counter c, const char *l1, size_t n1, const char *l2, size_t n2)
{
        uint32_t h = 2166136261u;
        h = (h ^ (uint32_t)c) * 16777619u;
        for (size_t i = 0; i < n1; i++)
                h = (h ^ (unsigned char)l1[i]) * 16777619u;
        h = (h ^ 0xFFu) * 16777619u; /* not a byte of UTF-8: "ab","c" and "a","bc" differ */
        for (size_t i = 0; i < n2; i++)
                h = (h ^ (unsigned char)l2[i]) * 16777619u;
        return h;
}

static bool same_label(const char *kept, const char *value, size_t n)
{
        return strncmp(kept, value, n) == 0 && kept[n] == '\0';
}

/* The series for these label values, made if new; NULL when it cannot be. */
static struct series *series_get(enum dawn_counter c, const char *label1, const char *label2, bool create)
{
        const char *l1 = label_value(c, 0, label1), *l2 = label_value(c, 1, label2);
        size_t n1 = kept_length(l1), n2 = kept_length(l2);
        uint32_t h = series_hash(c, l1, n1, l2, n2);
        size_t i = h & (INDEX_SIZE - 1);
        for (; series_index[i]; i = (i + 1) & (INDEX_SIZE - 1)) {
                struct series *s = &series[series_index[i] - 1];
                if (s->hash == h && s->counter == c && same_label(s->label[0], l1, n1) &&
                    same_label(s->label[1], l2, n2))
                        return s;
        }
        if (!create || n_series == MAX_SERIES)
                return NULL;
        char *k1 = strndup(l1, n1), *k2 = strndup(l2, n2);
        if (!k1 || !k2) {
                free(k1);
                free(k2);
                return NULL;
        }
        struct series *s = &series[n_series];
        *s = (struct series){ .counter = c, .hash = h, .label = { k1, k2 } };
        series_index[i] = (uint16_t)(++n_series);
        return s;
}

void dawn_metrics_add(enum dawn_counter c, const char *label1, const char *label2, uint64_t n)
{
        struct series *s = (unsigned)c < DAWN_M_COUNTER_COUNT ? series_get(c, label1, label2, true) : NULL;
        if (s)
                s->value += n;
        else
                dropped++;
}

void dawn_metrics_count(enum dawn_counter c, const char *label1, const char *label2)
{
        dawn_metrics_add(c, label1, label2, 1);
}

uint64_t dawn_metrics_value(enum dawn_counter c, const char *label1, const char *label2)
{
        if ((unsigned)c >= DAWN_M_COUNTER_COUNT)
                return 0;
        const struct series *s = series_get(c, label1, label2, false);
        return s ? s->value : 0;
}

void dawn_metrics_observe_latency(enum dawn_channel_kind channel, uint64_t usec)
{
        if ((unsigned)channel >= DAWN_CHANNEL_COUNT)
                return;
        struct latency *l = &latency[channel];
        size_t b = 0;
        while (b < N_BOUNDS && usec > latency_bound_usec[b])
                b++;
        l->bucket[b]++;
        l->count++;
        l->sum_usec += usec;
}

/* What a character of a label value becomes in the exposition format, or
 * NULL when it stays as it is. */
static const char *escape_of(char ch)
{
        switch (ch) {
        case '\\':
                return "\\\\";
        case '"':
                return "\\\"";
        case '\n':
                return "\\n";
        default:
                return NULL;
        }
}

void dawn_metrics_escape(const char *value, char *out, size_t size)
{
        if (size == 0)
                return;
        size_t o = 0;
        for (const char *p = value ? value : ""; *p; p++) {
                const char *e = escape_of(*p);
                size_t len = e ? strlen(e) : 1;
                if (o + len >= size) {
                        /* cut whole: never half an escape (it is not begun), nor half a UTF-8
                         * character (a continuation byte here means one is begun: take back
                         * its other continuation bytes and its lead byte) */
                        if (((unsigned char)*p & 0xC0) == 0x80) {
                                while (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0x80)
                                        o--;
                                if (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0xC0)
                                        o--;
                        }
                        break;
                }
                if (e)
                        memcpy(out + o, e, len);
                else
                        out[o] = *p;
                o += len;
        }
        out[o] = '\0';
}

static void put_escaped(FILE *f, const char *value)
{
        for (const char *p = value; *p; p++) {
                const char *e = escape_of(*p);
                if (e)
                        fputs(e, f);
                else
                        fputc(*p, f);
        }
}

/* HELP text escapes backslash and newline only (a quote is plain there). */
static void put_help(FILE *f, const char *name, const char *help, const char *type)
{
        fprintf(f, "# HELP %s ", name);
        for (const char *p = help ? help : ""; *p; p++) {
                if (*p == '\\')
                        fputs("\\\\", f);
                else if (*p == '\n')
                        fputs("\\n", f);
                else
                        fputc(*p, f);
        }
        fprintf(f, "\n# TYPE %s %s\n", name, type);
}

static void write_counter(FILE *f, enum dawn_counter c)
{
        const struct counter_family *fam = &families[c];
        put_help(f, fam->name, fam->help, "counter");
        if (!fam->label[0]) {
                /* one series only, and always there: a rate starts from 0, not from the first event */
                fprintf(f, "%s %" PRIu64 "\n", fam->name, dawn_metrics_value(c, NULL, NULL));
                return;
        }
        for (size_t i = 0; i < n_series; i++) {
                const struct series *s = &series[i];
                if (s->counter != c)
                        continue;
                fprintf(f, "%s{", fam->name);
                for (int l = 0; l < 2 && fam->label[l]; l++) {
                        fprintf(f, "%s%s=\"", l ? "," : "", fam->label[l]);
                        put_escaped(f, s->label[l]);
                        fputc('"', f);
                }
                fprintf(f, "} %" PRIu64 "\n", s->value);
        }
}

static void write_latency(FILE *f)
{
        put_help(f, LATENCY_NAME, LATENCY_HELP, "histogram");
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++) {
                const struct latency *l = &latency[k];
                if (!l->count)
                        continue; /* a channel that never delivered (or is not configured) has no series */
                const char *channel = dawn_channel_name((enum dawn_channel_kind)k);
                uint64_t cumulative = 0;
                for (size_t b = 0; b < N_BOUNDS; b++) {
                        cumulative += l->bucket[b];
                        fprintf(f, LATENCY_NAME "_bucket{channel=\"%s\",le=\"%s\"} %" PRIu64 "\n", channel,
                                latency_le[b], cumulative);
                }
                fprintf(f, LATENCY_NAME "_bucket{channel=\"%s\",le=\"+Inf\"} %" PRIu64 "\n", channel, l->count);
                /* whole microseconds: the sum is exact, not a float's running total */
                fprintf(f, LATENCY_NAME "_sum{channel=\"%s\"} %" PRIu64 ".%06" PRIu64 "\n", channel,
                        l->sum_usec / USEC_PER_SEC, l->sum_usec % USEC_PER_SEC);
                fprintf(f, LATENCY_NAME "_count{channel=\"%s\"} %" PRIu64 "\n", channel, l->count);
        }
}

int dawn_metrics_write(FILE *f)
{
        for (int c = 0; c < DAWN_M_COUNTER_COUNT; c++)
                write_counter(f, (enum dawn_counter)c);
        put_help(f, DROPPED_NAME, DROPPED_HELP, "counter");
        fprintf(f, DROPPED_NAME " %" PRIu64 "\n", dropped);
        write_latency(f);
        /* a failed write may sit in the buffer until flushed */
        if (fflush(f) != 0 || ferror(f))
                return errno > 0 ? -errno : -EIO;
        return 0;
}

/* The shortest decimal that reads back as the same double, in the spelling
 * Prometheus uses for the values that are not numbers. */
static void put_value(FILE *f, double value)
{
        if (isnan(value)) {
                fputs("NaN", f);
        } else if (isinf(value)) {
                fputs(value > 0 ? "+Inf" : "-Inf", f);
        } else {
                char buf[32];
                snprintf(buf, sizeof(buf), "%.15g", value);
                if (strtod(buf, NULL) != value)
                        snprintf(buf, sizeof(buf), "%.17g", value);
                fputs(buf, f);
        }
}

void dawn_metrics_write_gauge(FILE *f, const char *name, const char *help, const char *labels, double value,
                              int first_of_family)
{
        if (first_of_family)
                put_help(f, name, help, "gauge");
        fputs(name, f);
        if (labels && *labels)
                fprintf(f, "{%s}", labels);
        fputc(' ', f);
        put_value(f, value);
        fputc('\n', f);
}

void dawn_metrics_reset(void)
{
        for (size_t i = 0; i < n_series; i++) {
                free(series[i].label[0]);
                free(series[i].label[1]);
        }
        memset(series, 0, sizeof(series));
        memset(series_index, 0, sizeof(series_index));
        n_series = 0;
        dropped = 0;
        memset(latency, 0, sizeof(latency));
}
