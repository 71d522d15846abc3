/* dawnctl: the officer's client for dawnd.
 *
 * Every command is one row of the grammar table at the end of this file:
 * its name, synopsis, help, the options it takes, the function that turns
 * its arguments into a control request and the function that shows the
 * answer to a person. "dawnctl --help" and the dispatcher read the same
 * table, so a command cannot exist without its help.
 *
 * Turning argv into a request (dawnctl_parse) is kept apart from the socket
 * and from printing so that tests/unit/test_dawnctl_args.c can check it on
 * its own: the test includes this file with DAWNCTL_NO_MAIN defined.
 *
 * dawnctl checks only what it has to parse itself (whole numbers,
 * durations, "is --file JSON"); dawnd validates every value and names the
 * field it refuses, so there is one set of rules, not two.
 */

#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "dawn/protocol.h"
#include "model.h"
#include "text.h"

/* A "show" of a busy alert lists every delivery, so answers can be far
 * larger than requests; the cap only stops a broken peer filling memory. */
#define ANSWER_MAX_BYTES (16u * 1024 * 1024)
/* dawnd answers from its event loop in milliseconds; a minute without an
 * answer means it is stuck, and an officer should not wait forever. One
 * deadline for the whole exchange (connect, request, answer), not per read. */
#define ANSWER_TIMEOUT_SECONDS 60
/* Tables are cut to about this many columns, widest column last. */
#define TABLE_WIDTH 100
/* Longer than any sensible expiry; keeps "now + duration" from overflowing. */
#define DURATION_MAX_SECONDS (100LL * 366 * 24 * 3600)
#define TIME_TEXT_MAX 64

/* ------------------------------------------------------------------ */
/* Options                                                              */

enum option_id {
        /* The alert field options: each one sets one key of the alert. */
        OPT_TYPE,
        OPT_AREA,
        OPT_SUMMARY,
        OPT_SOLD_AS,
        OPT_ADULTERANT,
        OPT_APPEARANCE,
        OPT_ADVICE,
        OPT_EVIDENCE,
        OPT_CASUALTIES,
        OPT_FATALITIES,
        OPT_GRADE,
        OPT_EXPIRES,
        OPT_SCOPE,
        OPT_SOURCE_REF,
        OPT_OCCURRED,
        /* The rest belong to the request, not to the alert. */
        OPT_FILE,
        OPT_REASON,
        OPT_ALL,
        OPT_COUNT,
        OPT_JSON = OPT_COUNT, /* accepted by every command, like --help */
};

#define OPT_BIT(id) (1u << (id))
#define FIELD_OPTS (OPT_BIT(OPT_OCCURRED + 1) - 1)
/* getopt_long values above any character, so they never meet a short option. */
#define OPT_VALUE_BASE 256

enum value_kind {
        VALUE_TEXT,  /* sent as given */
        VALUE_LIST,  /* repeatable: each use adds one entry to an array */
        VALUE_COUNT, /* a whole number >= 0 */
        VALUE_WHEN,  /* a duration from now, or an RFC 3339 time */
        VALUE_FLAG,  /* takes no argument */
};

struct option_row {
        const char *name; /* the long option, without "--" */
        const char *arg;  /* the argument's name in help; NULL for a flag */
        const char *key;  /* the alert key it sets; NULL if not an alert field */
        enum value_kind kind;
        const char *help;
};

static const struct option_row option_rows[OPT_COUNT] = {
        [OPT_TYPE] = { "type", "T", "type", VALUE_TEXT, "batch, cluster or nfod" },
        [OPT_AREA] = { "area", "A", "area", VALUE_TEXT, "an area id from the configured area tree" },
        [OPT_SUMMARY] = { "summary", "TEXT", "summary", VALUE_TEXT,
                          "what happened and why it matters (1..1000 characters)" },
        [OPT_SOLD_AS] = { "sold-as", "S", "sold_as", VALUE_LIST,
                          "what it was sold or bought as (repeatable)" },
        [OPT_ADULTERANT] = { "adulterant", "X", "adulterants", VALUE_LIST,
                             "what was found or suspected in it (repeatable)" },
        [OPT_APPEARANCE] = { "appearance", "TEXT", "appearance", VALUE_TEXT,
                             "colour, form, markings, packaging" },
        [OPT_ADVICE] = { "advice", "TEXT", "advice", VALUE_TEXT, "harm-reduction advice to pass on" },
        [OPT_EVIDENCE] = { "evidence", "E", "evidence", VALUE_TEXT,
                           "reported (default), clinical or toxicology" },
        [OPT_CASUALTIES] = { "casualties", "N", "casualties", VALUE_COUNT,
                             "people harmed (a whole number)" },
        [OPT_FATALITIES] = { "fatalities", "N", "fatalities", VALUE_COUNT, "deaths (a whole number)" },
        [OPT_GRADE] = { "grade", "G", "grade", VALUE_TEXT, "info, warning or critical" },
        [OPT_EXPIRES] = { "expires", "WHEN", "expires_at", VALUE_WHEN,
                          "a duration from now (90s, 30m, 24h, 14d) or an RFC 3339 time" },
        [OPT_SCOPE] = { "scope", "S", "scope", VALUE_TEXT, "professional (default) or public" },
        [OPT_SOURCE_REF] = { "source-ref", "REF", "source_ref", VALUE_TEXT,
                             "your own id for this report; sending it again changes nothing" },
        [OPT_OCCURRED] = { "occurred", "TIME", "occurred_at", VALUE_TEXT, "when it happened (RFC 3339)" },
        [OPT_FILE] = { "file", "FILE", NULL, VALUE_TEXT,
                       "read one JSON alert object from FILE ('-': standard input)" },
        [OPT_REASON] = { "reason", "TEXT", NULL, VALUE_TEXT, "why; recorded with the alert (required)" },
        [OPT_ALL] = { "all", NULL, NULL, VALUE_FLAG, "include pending, cancelled and expired alerts" },
};

/* ------------------------------------------------------------------ */
/* The grammar table's types; the table itself is at the end.          */

struct invocation;
struct args;

struct command {
        const char *name;
        const char *synopsis; /* what follows "dawnctl NAME" */
        const char *summary;  /* one line for "dawnctl --help" */
        const char *help;     /* the paragraph of "dawnctl NAME --help" */
        unsigned options;     /* OPT_BIT()s of the options it takes */
        int (*build)(struct invocation *inv, struct args *a);
        void (*show)(const cJSON *request, const cJSON *answer);
        const char *result; /* the answer's key that --json prints; NULL: all of it */
};

/* One parsed command line. */
struct invocation {
        const struct command *command; /* NULL when the command is unknown */
        cJSON *request;                /* owned; NULL on help or usage error */
        bool json;                     /* --json given after the command */
        bool help;                     /* print help instead of sending */
        const struct command *help_for; /* with help: which command; NULL: all */
        char error[512];               /* usage error, without the "dawnctl CMD: " prefix */
        bool bad_input;                /* the error is in the alert's text, not the command line */
};

/* What the options said, before a command's builder shapes the request. */
struct args {
        cJSON *fields;      /* alert field options, under their alert keys */
        const char *file;   /* --file */
        const char *reason; /* --reason */
        bool all;           /* --all */
        char **operands;    /* what is left after the options */
        int n_operands;
};

/* Sized here because a static array cannot be declared incomplete; a
 * command added to the table without raising this is a compile error. */
#define N_COMMANDS 14
static const struct command commands[N_COMMANDS + 1];

/* The testable core: tests/unit/test_dawnctl_args.c calls these. */
int dawnctl_parse(struct invocation *inv, int argc, char **argv);
void dawnctl_invocation_done(struct invocation *inv);
int dawnctl_main(int argc, char **argv);

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */

static _Noreturn void out_of_memory(void)
{
        fputs("dawnctl: out of memory\n", stderr);
        exit(EXIT_FAILURE);
}

/* cJSON reports allocation failure as NULL from every constructor; a
 * client cannot do anything useful without memory, so it stops. */
static cJSON *must(cJSON *item)
{
        if (!item)
                out_of_memory();
        return item;
}

static void must_add(cJSON *object, const char *key, cJSON *item)
{
        if (!cJSON_AddItemToObject(object, key, must(item)))
                out_of_memory();
}

static __attribute__((format(printf, 2, 3))) int usage_error(struct invocation *inv, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(inv->error, sizeof inv->error, fmt, ap);
        va_end(ap);
        return -1;
}

/* A --file whose content is not an alert is refused input (exit 1, as dawnd
 * would refuse it), not a mistake in the command line (exit 2). */
static __attribute__((format(printf, 2, 3))) int input_error(struct invocation *inv, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(inv->error, sizeof inv->error, fmt, ap);
        va_end(ap);
        inv->bad_input = true;
        return -1;
}

static const cJSON *get(const cJSON *object, const char *key)
{
        return cJSON_GetObjectItemCaseSensitive(object, key);
}

static const char *get_string(const cJSON *object, const char *key)
{
        const cJSON *item = get(object, key);

        return cJSON_IsString(item) ? item->valuestring : NULL;
}

static bool get_true(const cJSON *object, const char *key)
{
        return cJSON_IsTrue(get(object, key));
}

static bool ends_with(const char *s, const char *suffix)
{
        size_t n = strlen(s), m = strlen(suffix);

        return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ------------------------------------------------------------------ */
/* Values dawnctl must parse itself                                     */

static int parse_count(const char *s, long long *out)
{
        char *end;
        long long v;

        /* strtoll would accept " 3", "+3" and "-0"; a count is digits only. */
        if (!isdigit((unsigned char)s[0]))
                return -1;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno != 0 || *end != '\0' || v > INT_MAX)
                return -1;
        *out = v;
        return 0;
}

/* "90s", "30m", "24h", "14d", "2w", or a sum of them like "1d12h". */
static int parse_duration(const char *s, long long *seconds)
{
        long long total = 0;

        if (!*s)
                return -1;
        while (*s) {
                long long n, unit;
                char *end;

                if (!isdigit((unsigned char)*s))
                        return -1;
                errno = 0;
                n = strtoll(s, &end, 10);
                if (errno != 0)
                        return -1;
                switch (*end) {
                case 's': unit = 1; break;
                case 'm': unit = 60; break;
                case 'h': unit = 3600; break;
                case 'd': unit = 86400; break;
                case 'w': unit = 7 * 86400; break;
                default: return -1;
                }
                if (n > DURATION_MAX_SECONDS / unit || total + n * unit > DURATION_MAX_SECONDS)
                        return -1;
                total += n * unit;
                s = end + 1;
        }
        *seconds = total;
        return 0;
}

static void format_rfc3339_utc(time_t t, char *buf, size_t n)
{
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --expires: a duration is turned into a time here, because "24h" means
 * 24 hours from when the officer typed it, not from when dawnd reads it.
 * Anything that starts like a date is passed on for dawnd to check.
 * Returns the value to send (value itself or buf), or NULL. */
static const char *parse_when(const char *value, time_t now, char *buf, size_t n)
{
        long long seconds;

        if (parse_duration(value, &seconds) == 0) {
                if (seconds == 0)
                        return NULL;
                format_rfc3339_utc(now + (time_t)seconds, buf, n);
                return buf;
        }
        for (int i = 0; i < 4; i++)
                if (!isdigit((unsigned char)value[i]))
                        return NULL;
        return value[4] == '-' ? value : NULL;
}

/* RFC 3339 -> time_t, for showing times in the officer's own time zone. */
static int parse_rfc3339(const char *s, time_t *out)
{
        struct tm tm = { 0 };
        const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        long offset = 0;

        if (!p)
                return -1;
        if (*p == '.')
                for (p++; isdigit((unsigned char)*p); p++)
                        ;
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                int hh, mm, used = 0;

                if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &used) != 2 || used != 5)
                        return -1;
                offset = (*p == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
                p += 6;
        } else {
                return -1;
        }
        if (*p)
                return -1;
        *out = timegm(&tm) - offset;
        return 0;
}

/* "3d 4h", "4h 5m", "5m 10s": the two largest units are enough to read. */
static void format_duration(long long s, char *buf, size_t n)
{
        static const struct {
                long long seconds;
                char unit;
        } units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };

        if (s < 0)
                s = -s;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
                if (s < units[i].seconds && units[i].seconds > 1)
                        continue;
                if (i + 1 < sizeof units / sizeof units[0] && s % units[i].seconds >= units[i + 1].seconds)
                        snprintf(buf, n, "%lld%c %lld%c", s / units[i].seconds, units[i].unit,
                                 s % units[i].seconds / units[i + 1].seconds, units[i + 1].unit);
                else
                        snprintf(buf, n, "%lld%c", s / units[i].seconds, units[i].unit);
                return;
        }
}

/* A time as the officer reads it: local time; the text as sent if it is
 * not RFC 3339, so nothing is hidden. */
static const char *format_time(const char *rfc3339, const char *fmt, char *buf, size_t n)
{
        struct tm tm;
        time_t t;

        if (parse_rfc3339(rfc3339, &t) < 0 || !localtime_r(&t, &tm) || strftime(buf, n, fmt, &tm) == 0)
                return rfc3339;
        return buf;
}

/* ------------------------------------------------------------------ */
/* Reading options into a request                                       */

static void build_longopts(unsigned mask, struct option *longopts)
{
        size_t n = 0;

        for (int id = 0; id < OPT_COUNT; id++) {
                if (!(mask & OPT_BIT(id)))
                        continue;
                longopts[n++] = (struct option){ option_rows[id].name,
                                                 option_rows[id].arg ? required_argument : no_argument, NULL,
                                                 OPT_VALUE_BASE + id };
        }
        longopts[n++] = (struct option){ "json", no_argument, NULL, OPT_VALUE_BASE + OPT_JSON };
        longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
        longopts[n] = (struct option){ NULL, 0, NULL, 0 };
}

/* getopt_long said '?' or ':'; say which option, as the officer typed it.
 * optind has moved past the option, except inside a cluster like "-xy",
 * which is why a short option is named from optopt. */
static void describe_bad_option(int c, char **argv, const struct option *longopts, char *buf, size_t n)
{
        const char *typed = argv[optind - 1];
        size_t len = strcspn(typed, "=");
        bool is_long = strncmp(typed, "--", 2) == 0;
        int matches = 0, exact_val = 0;

        if (c == ':') {
                snprintf(buf, n, "option '%.*s' needs a value", (int)len, typed);
                return;
        }
        /* getopt_long accepts unique prefixes, and says '?' for ambiguous ones too. */
        for (const struct option *o = longopts; is_long && o->name; o++) {
                if (len > 2 && strncmp(o->name, typed + 2, len - 2) == 0) {
                        matches++;
                        exact_val = o->val;
                }
        }
        if (is_long && optopt != 0 && optopt == exact_val && typed[len] == '=')
                snprintf(buf, n, "option '%.*s' takes no value", (int)len, typed);
        else if (optopt > 0 && optopt < OPT_VALUE_BASE)
                snprintf(buf, n, "unknown option '-%c'", optopt);
        else
                snprintf(buf, n, "%s option '%.*s'", matches > 1 ? "ambiguous" : "unknown", (int)len, typed);
}

static void add_to_list(cJSON *fields, const char *key, const char *value)
{
        cJSON *list = cJSON_GetObjectItemCaseSensitive(fields, key);

        if (!list) {
                list = must(cJSON_CreateArray());
                must_add(fields, key, list);
        }
        if (!cJSON_AddItemToArray(list, must(cJSON_CreateString(value))))
                out_of_memory();
}

static int take_field(struct invocation *inv, cJSON *fields, const struct option_row *o, const char *value)
{
        char when[TIME_TEXT_MAX];
        const char *text = value;
        long long n;

        if (o->kind == VALUE_LIST) {
                add_to_list(fields, o->key, value);
                return 0;
        }
        /* Two different values for one field is a typo either way;
         * silently keeping the last could send the wrong area. */
        if (get(fields, o->key))
                return usage_error(inv, "--%s given more than once", o->name);
        if (o->kind == VALUE_COUNT) {
                if (parse_count(value, &n) < 0)
                        return usage_error(inv, "--%s wants a whole number >= 0, not '%s'", o->name, value);
                must(cJSON_AddNumberToObject(fields, o->key, (double)n));
                return 0;
        }
        if (o->kind == VALUE_WHEN) {
                text = parse_when(value, time(NULL), when, sizeof when);
                if (!text)
                        return usage_error(inv,
                                           "--%s wants a duration from now (90s, 30m, 24h, 14d) "
                                           "or an RFC 3339 time, not '%s'",
                                           o->name, value);
        }
        must(cJSON_AddStringToObject(fields, o->key, text));
        return 0;
}

static int set_once(struct invocation *inv, const char **slot, const char *value, const char *name)
{
        if (*slot)
                return usage_error(inv, "--%s given more than once", name);
        *slot = value;
        return 0;
}

static int take_option(struct invocation *inv, struct args *a, int id, const char *value)
{
        switch (id) {
        case OPT_FILE: return set_once(inv, &a->file, value, option_rows[id].name);
        case OPT_REASON: return set_once(inv, &a->reason, value, option_rows[id].name);
        case OPT_ALL: a->all = true; return 0;
        case OPT_JSON: inv->json = true; return 0;
        default: return take_field(inv, a->fields, &option_rows[id], value);
        }
}

static int read_options(struct invocation *inv, struct args *a, int argc, char **argv)
{
        struct option longopts[OPT_COUNT + 3];
        int c;

        build_longopts(inv->command->options, longopts);
        optind = 0; /* GNU: start afresh, this argv is not the last one's */
        opterr = 0; /* the messages below name the command */
        while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
                if (c == 'h') {
                        inv->help = true;
                        inv->help_for = inv->command;
                        return 0;
                }
                if (c == '?' || c == ':') {
                        describe_bad_option(c, argv, longopts, inv->error, sizeof inv->error);
                        return -1;
                }
                if (take_option(inv, a, c - OPT_VALUE_BASE, optarg) < 0)
                        return -1;
        }
        a->operands = argv + optind;
        a->n_operands = argc - optind;
        return 0;
}

/* Field options win over what --file said: the officer typed them last. */
static void merge_fields(cJSON *alert, cJSON *fields)
{
        cJSON *item;

        while ((item = fields->child)) {
                char *key = item->string;

                cJSON_DetachItemViaPointer(fields, item);
                item->string = NULL;
                cJSON_DeleteItemFromObjectCaseSensitive(alert, key);
                if (!cJSON_AddItemToObject(alert, key, item))
                        out_of_memory();
                cJSON_free(key);
        }
}

static const struct command *find_command(const char *name)
{
        for (const struct command *cmd = commands; cmd->name; cmd++)
                if (strcmp(cmd->name, name) == 0)
                        return cmd;
        return NULL;
}

/* "cmd" comes first so that a request reads naturally in a log. */
static cJSON *new_request(const char *cmd)
{
        cJSON *request = must(cJSON_CreateObject());

        must(cJSON_AddStringToObject(request, "cmd", cmd));
        return request;
}

static int expect_operands(struct invocation *inv, const struct args *a, int n, const char *what)
{
        if (a->n_operands < n)
                return usage_error(inv, "missing %s", what ? what : "an argument");
        if (a->n_operands > n)
                return usage_error(inv, "unexpected argument '%s'", a->operands[n]);
        return 0;
}

/* ------------------------------------------------------------------ */
/* issue --file                                                          */

static int read_all(FILE *f, size_t max, char **text, size_t *len)
{
        size_t size = 4096, used = 0;
        char *buf = malloc(size);

        if (!buf)
                out_of_memory();
        for (;;) {
                size_t got = fread(buf + used, 1, size - used, f);

                used += got;
                if (used > max) {
                        free(buf);
                        return -EFBIG;
                }
                if (got == 0 || used < size) {
                        if (ferror(f)) {
                                free(buf);
                                return -EIO;
                        }
                        if (feof(f))
                                break;
                        continue;
                }
                size *= 2;
                buf = realloc(buf, size);
                if (!buf)
                        out_of_memory();
        }
        *text = buf;
        *len = used;
        return 0;
}

static int line_of(const char *text, const char *at)
{
        int line = 1;

        for (const char *p = text; p < at; p++)
                line += *p == '\n';
        return line;
}

static cJSON *parse_alert_text(struct invocation *inv, const char *name, const char *text, size_t len)
{
        const char *end = NULL;
        cJSON *alert = cJSON_ParseWithLengthOpts(text, len, &end, false);
        char nul_at[DAWN_JSON_PATH_MAX];

        if (!alert) {
                input_error(inv, "%s: malformed JSON at line %d; nothing was sent", name,
                            line_of(text, cJSON_GetErrorPtr()));
                return NULL;
        }
        while (end < text + len && isspace((unsigned char)*end))
                end++;
        if (end < text + len) {
                input_error(inv, "%s: malformed JSON: more than one value (line %d); nothing was sent", name,
                            line_of(text, end));
        } else if (!cJSON_IsObject(alert)) {
                input_error(inv, "%s: must hold one JSON object, the alert; nothing was sent", name);
        } else if (dawn_json_find_nul(text, len, "alert", nul_at, sizeof nul_at)) {
                /* cJSON has already cut that string short: sending it on would
                 * send something other than what the file says */
                input_error(inv, "%s: " DAWN_JSON_NUL_REFUSAL "; nothing was sent", name, nul_at);
        } else {
                return alert;
        }
        cJSON_Delete(alert);
        return NULL;
}

static cJSON *read_alert_file(struct invocation *inv, const char *path)
{
        bool is_stdin = strcmp(path, "-") == 0;
        const char *name = is_stdin ? "standard input" : path;
        FILE *f = is_stdin ? stdin : fopen(path, "re");
        cJSON *alert = NULL;
        char *text = NULL;
        size_t len = 0;
        int r;

        if (!f) {
                usage_error(inv, "cannot open %s: %s", path, strerror(errno));
                return NULL;
        }
        r = read_all(f, DAWN_MAX_REQUEST_BYTES, &text, &len);
        if (!is_stdin)
                fclose(f);
        if (r == -EFBIG)
                usage_error(inv, "%s is larger than a request may be (%d bytes)", name, DAWN_MAX_REQUEST_BYTES);
        else if (r < 0)
                usage_error(inv, "cannot read %s: %s", name, strerror(-r));
        else
                alert = parse_alert_text(inv, name, text, len);
        free(text);
        return alert;
}

/* ------------------------------------------------------------------ */
/* Builders: options and operands -> the request                        */

static int build_issue(struct invocation *inv, struct args *a)
{
        cJSON *alert;

        if (a->n_operands > 1)
                return usage_error(inv, "expected one SUMMARY, got %d words (put it in quotes)", a->n_operands);
        if (a->n_operands == 1) {
                if (get(a->fields, "summary"))
                        return usage_error(inv, "the summary is given twice: as SUMMARY and with --summary");
                must(cJSON_AddStringToObject(a->fields, "summary", a->operands[0]));
        }
        if (a->file) {
                /* Sent as it is: dawnd validates and names the fields. */
                alert = read_alert_file(inv, a->file);
                if (!alert)
                        return -1;
        } else {
                alert = must(cJSON_CreateObject());
                if (!get(a->fields, "type"))
                        must(cJSON_AddStringToObject(alert, "type", dawn_type_name(DAWN_TYPE_BATCH)));
        }
        merge_fields(alert, a->fields);
        inv->request = new_request("issue");
        must_add(inv->request, "alert", alert);
        return 0;
}

static int build_report_overdose(struct invocation *inv, struct args *a)
{
        cJSON *alert;

        if (expect_operands(inv, a, 0, NULL) < 0)
                return -1;
        if (!get(a->fields, "area"))
                return usage_error(inv, "--area is required");
        alert = must(cJSON_CreateObject());
        must(cJSON_AddStringToObject(alert, "type", dawn_type_name(DAWN_TYPE_NFOD)));
        merge_fields(alert, a->fields);
        inv->request = new_request("issue");
        must_add(inv->request, "alert", alert);
        return 0;
}

static int build_update(struct invocation *inv, struct args *a)
{
        cJSON *alert;

        if (expect_operands(inv, a, 1, "the alert ID") < 0)
                return -1;
        if (!a->fields->child)
                return usage_error(inv, "nothing to change: give at least one field option");
        alert = must(cJSON_CreateObject());
        merge_fields(alert, a->fields);
        inv->request = new_request("update");
        must(cJSON_AddStringToObject(inv->request, "id", a->operands[0]));
        must_add(inv->request, "alert", alert);
        return 0;
}

/* pending, optouts, status, reload: the command and nothing else. */
static int build_bare(struct invocation *inv, struct args *a)
{
        if (expect_operands(inv, a, 0, NULL) < 0)
                return -1;
        inv->request = new_request(inv->command->name);
        return 0;
}

/* approve ID, show ID */
static int build_with_id(struct invocation *inv, struct args *a)
{
        if (expect_operands(inv, a, 1, "the alert ID") < 0)
                return -1;
        inv->request = new_request(inv->command->name);
        must(cJSON_AddStringToObject(inv->request, "id", a->operands[0]));
        return 0;
}

/* cancel ID --reason TEXT, reject ID --reason TEXT: recipients and the
 * audit trail are owed a reason, so there is no default. */
static int build_with_reason(struct invocation *inv, struct args *a)
{
        if (expect_operands(inv, a, 1, "the alert ID") < 0)
                return -1;
        if (!a->reason)
                return usage_error(inv, "--reason is required");
        inv->request = new_request(inv->command->name);
        must(cJSON_AddStringToObject(inv->request, "id", a->operands[0]));
        must(cJSON_AddStringToObject(inv->request, "reason", a->reason));
        return 0;
}

static int build_list(struct invocation *inv, struct args *a)
{
        if (expect_operands(inv, a, 0, NULL) < 0)
                return -1;
        inv->request = new_request("list");
        must(cJSON_AddBoolToObject(inv->request, "all", a->all));
        return 0;
}

static int build_route(struct invocation *inv, struct args *a)
{
        const char *area = get_string(a->fields, "area");
        const char *type = get_string(a->fields, "type");
        const char *grade = get_string(a->fields, "grade");

        if (expect_operands(inv, a, 0, NULL) < 0)
                return -1;
        if (!area)
                return usage_error(inv, "--area is required");
        inv->request = new_request("route");
        must(cJSON_AddStringToObject(inv->request, "area", area));
        must(cJSON_AddStringToObject(inv->request, "type", type ? type : dawn_type_name(DAWN_TYPE_BATCH)));
        must(cJSON_AddStringToObject(inv->request, "grade",
                                     grade ? grade : dawn_grade_name(DAWN_GRADE_WARNING)));
        return 0;
}

/* help [COMMAND]: answered here, nothing is sent. */
static int build_help(struct invocation *inv, struct args *a)
{
        if (a->n_operands > 1)
                return usage_error(inv, "unexpected argument '%s'", a->operands[1]);
        inv->help = true;
        if (a->n_operands == 1) {
                inv->help_for = find_command(a->operands[0]);
                if (!inv->help_for)
                        return usage_error(inv, "unknown command '%s'", a->operands[0]);
        }
        return 0;
}

/* argv[0] is the command's name. Returns DAWN_EXIT_OK with inv->request
 * (or inv->help) set, or DAWN_EXIT_USAGE with inv->error set; either way
 * dawnctl_invocation_done() frees what inv holds. */
int dawnctl_parse(struct invocation *inv, int argc, char **argv)
{
        struct args a = { 0 };
        int r;

        memset(inv, 0, sizeof *inv);
        if (argc < 1) {
                usage_error(inv, "no command given");
                return DAWN_EXIT_USAGE;
        }
        inv->command = find_command(argv[0]);
        if (!inv->command) {
                usage_error(inv, "unknown command '%s'", argv[0]);
                return DAWN_EXIT_USAGE;
        }
        a.fields = must(cJSON_CreateObject());
        r = read_options(inv, &a, argc, argv);
        if (r == 0 && !inv->help)
                r = inv->command->build(inv, &a);
        cJSON_Delete(a.fields);
        if (r < 0) {
                cJSON_Delete(inv->request);
                inv->request = NULL;
                return inv->bad_input ? DAWN_EXIT_REFUSED : DAWN_EXIT_USAGE;
        }
        return DAWN_EXIT_OK;
}

void dawnctl_invocation_done(struct invocation *inv)
{
        cJSON_Delete(inv->request);
        inv->request = NULL;
}

/* ------------------------------------------------------------------ */
/* Talking to dawnd                                                      */

static int connect_dawnd(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval timeout = { .tv_sec = ANSWER_TIMEOUT_SECONDS };
        size_t len = strlen(path);
        int fd, saved;

        if (len >= sizeof sa.sun_path) {
                errno = ENAMETOOLONG;
                return -1;
        }
        memcpy(sa.sun_path, path, len + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        /* Without the timeouts a stuck daemon would hang the officer's
         * terminal; failing to set them only loses that protection. */
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        if (connect(fd, (const struct sockaddr *)&sa, sizeof sa) < 0) {
                saved = errno;
                close(fd);
                errno = saved;
                return -1;
        }
        return fd;
}

/* The whole exchange has one deadline: SO_RCVTIMEO alone bounds each
 * recv(), and a peer that sent a byte every few seconds would hold the
 * officer's terminal for weeks. Milliseconds on the monotonic clock. */
static int64_t now_msec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes (-ETIMEDOUT). */
static int wait_ready(int fd, short events, int64_t deadline)
{
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                int64_t left = deadline - now_msec();
                int r;

                if (left <= 0)
                        return -ETIMEDOUT;
                r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                return r == 0 ? -ETIMEDOUT : 0;
        }
}

static int send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
        while (len > 0) {
                ssize_t n;
                int r = wait_ready(fd, POLLOUT, deadline);

                if (r < 0)
                        return r;
                /* MSG_NOSIGNAL: a daemon that went away is an error to
                 * report, not a SIGPIPE that kills us silently. */
                n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                                continue;
                        return -errno;
                }
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Reads the answer: one line, by the deadline. Returns 0 with *line set
 * (empty if dawnd closed without a word), or -errno: -EMSGSIZE past
 * ANSWER_MAX_BYTES, -ETIMEDOUT past the deadline. */
static int read_answer(int fd, int64_t deadline, char **line, size_t *len)
{
        size_t size = 0, used = 0;
        char *buf = NULL;

        for (;;) {
                ssize_t n;
                char *nl;
                int r;

                if (used + 1 >= size) {
                        if (size >= ANSWER_MAX_BYTES + 1) {
                                free(buf);
                                return -EMSGSIZE;
                        }
                        size = size ? size * 2 : 4096;
                        if (size > ANSWER_MAX_BYTES + 1)
                                size = ANSWER_MAX_BYTES + 1;
                        buf = realloc(buf, size);
                        if (!buf)
                                out_of_memory();
                }
                r = wait_ready(fd, POLLIN, deadline);
                if (r < 0) {
                        free(buf);
                        return r;
                }
                n = recv(fd, buf + used, size - used - 1, MSG_DONTWAIT);
                if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
                        continue;
                if (n < 0) {
                        r = -errno;
                        free(buf);
                        return r;
                }
                if (n == 0)
                        break; /* what came without a newline is still parsed */
                nl = memchr(buf + used, '\n', (size_t)n);
                used += (size_t)n;
                if (nl) {
                        used = (size_t)(nl - buf);
                        break;
                }
        }
        buf[used] = '\0';
        *line = buf;
        *len = used;
        return 0;
}

static int exchange(int fd, const char *path, const char *request, int64_t deadline, cJSON **answer)
{
        char *line = NULL;
        size_t len = 0;
        int r;

        r = send_all(fd, request, strlen(request), deadline);
        /* EPIPE, ECONNRESET: a dawnd at one of its limits answers why and hangs up,
         * maybe before reading the request; that answer is still worth reading */
        if (r == -ETIMEDOUT) {
                fprintf(stderr, "dawnctl: dawnd at %s did not take the request within %d seconds\n", path,
                        ANSWER_TIMEOUT_SECONDS);
                return DAWN_EXIT_UNREACHABLE;
        } else if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
                fprintf(stderr, "dawnctl: cannot send to dawnd at %s: %s\n", path, strerror(-r));
                return DAWN_EXIT_UNREACHABLE;
        }
        r = read_answer(fd, deadline, &line, &len);
        if (r == -ETIMEDOUT || r == -EAGAIN || r == -EWOULDBLOCK)
                fprintf(stderr, "dawnctl: no answer from dawnd at %s within %d seconds\n", path,
                        ANSWER_TIMEOUT_SECONDS);
        else if (r == -EMSGSIZE)
                fprintf(stderr, "dawnctl: the answer from dawnd at %s is larger than %u bytes\n", path,
                        ANSWER_MAX_BYTES);
        else if (r < 0)
                fprintf(stderr, "dawnctl: lost the connection to dawnd at %s: %s\n", path, strerror(-r));
        else if (len == 0)
                fprintf(stderr, "dawnctl: dawnd at %s closed the connection without answering\n", path);
        else if (!(*answer = cJSON_ParseWithLength(line, len)))
                fprintf(stderr, "dawnctl: the answer from dawnd at %s is not JSON\n", path);
        free(line);
        return *answer ? DAWN_EXIT_OK : DAWN_EXIT_UNREACHABLE;
}

/* Sends one request line and reads one answer line, all within
 * ANSWER_TIMEOUT_SECONDS. Says why on stderr and returns
 * DAWN_EXIT_UNREACHABLE when there is no usable answer. */
static int call_dawnd(const char *path, const cJSON *request, cJSON **answer)
{
        int64_t deadline = now_msec() + ANSWER_TIMEOUT_SECONDS * 1000;
        char *text, *line;
        size_t len;
        int fd, r;

        *answer = NULL;
        fd = connect_dawnd(path);
        if (fd < 0) {
                fprintf(stderr, "dawnctl: cannot reach dawnd at %s: %s\n", path, strerror(errno));
                return DAWN_EXIT_UNREACHABLE;
        }
        text = cJSON_PrintUnformatted(request);
        if (!text)
                out_of_memory();
        len = strlen(text);
        line = malloc(len + 2);
        if (!line)
                out_of_memory();
        memcpy(line, text, len);
        memcpy(line + len, "\n", 2);
        cJSON_free(text);
        r = exchange(fd, path, line, deadline, answer);
        free(line);
        close(fd);
        return r;
}

/* ------------------------------------------------------------------ */
/* Printing text that came from elsewhere                              */

/* How one character of text from elsewhere is shown: controls (C0, DEL,
 * C1) and the bidirectional controls that would reorder what is around
 * them (U+202E makes "gnp.exe" of "exe.png") are written as <U+202E>, so
 * that an officer sees them instead of their effect; invalid UTF-8 as "?";
 * a tab or a CR as a space. HIDDEN_WIDTH is what "<U+XXXX>" takes. */
#define HIDDEN_WIDTH 8

/* Columns the character at p takes (1, or HIDDEN_WIDTH); *bytes gets its length. */
static size_t char_width(const char *p, size_t *bytes)
{
        uint32_t cp;

        *bytes = dawn_utf8_decode(p, &cp);
        if (*bytes == 0) {
                *bytes = 1;
                return 1;
        }
        if (cp == '\n' || cp == '\t' || cp == '\r')
                return 1;
        return dawn_char_is_hidden(cp) ? HIDDEN_WIDTH : 1;
}

static size_t text_width(const char *s)
{
        size_t width = 0, n;

        for (; *s; s += n)
                width += char_width(s, &n);
        return width;
}

/* Prints one character of s, made safe; returns how many bytes it used. */
static size_t put_char(FILE *out, const char *p, int newline_indent)
{
        uint32_t cp;
        size_t n = dawn_utf8_decode(p, &cp);

        if (n == 0) {
                fputc('?', out);
                return 1;
        }
        if (cp == '\n' && newline_indent >= 0)
                fprintf(out, "\n%*s", newline_indent, "");
        else if (cp == '\n' || cp == '\t' || cp == '\r')
                fputc(' ', out);
        else if (dawn_char_is_hidden(cp))
                fprintf(out, "<U+%04X>", (unsigned)cp);
        else
                fwrite(p, 1, n, out);
        return n;
}

/* Alert text comes from partner systems as well as officers, so it is
 * printed with every control made visible (no terminal escapes, no
 * reordering, no line breaks in a table cell), never splitting a UTF-8
 * character, and at most max columns wide, ending in "…" when cut. A
 * newline is kept, followed by newline_indent spaces, when newline_indent
 * >= 0. Returns the columns printed. */
static size_t put_text(FILE *out, const char *s, size_t max, int newline_indent)
{
        size_t width = text_width(s), limit = width, printed = 0, n;
        bool cut = width > max;

        if (cut)
                limit = max > 0 ? max - 1 : 0;
        while (*s) {
                size_t w = char_width(s, &n);

                if (printed + w > limit)
                        break;
                s += put_char(out, s, newline_indent);
                printed += w;
        }
        if (cut && max > 0) {
                fputs("…", out);
                printed++;
        }
        return printed;
}

/* Any JSON scalar (or an array of them, joined) as a short text. */
static const char *scalar_text(const cJSON *item, char *buf, size_t n)
{
        if (cJSON_IsString(item))
                return item->valuestring;
        if (cJSON_IsBool(item))
                return cJSON_IsTrue(item) ? "yes" : "no";
        if (cJSON_IsNumber(item)) {
                double v = item->valuedouble;

                if (v == (double)(long long)v)
                        snprintf(buf, n, "%lld", (long long)v);
                else
                        snprintf(buf, n, "%g", v);
                return buf;
        }
        if (cJSON_IsArray(item)) {
                const cJSON *e;
                size_t used = 0;
                char part[64];

                buf[0] = '\0';
                cJSON_ArrayForEach(e, item) {
                        const char *s = cJSON_IsArray(e) || cJSON_IsObject(e) ? "…" : scalar_text(e, part, sizeof part);
                        int w = snprintf(buf + used, n - used, "%s%s", used ? ", " : "", s);

                        if (w < 0 || (size_t)w >= n - used)
                                break;
                        used += (size_t)w;
                }
                return buf;
        }
        if (cJSON_IsObject(item))
                return "…";
        return "-";
}

/* "source_ref" -> "source ref": keys read as words in human output. */
static const char *label_of(const char *key, char *buf, size_t n)
{
        size_t i;

        for (i = 0; key[i] && i + 1 < n; i++)
                buf[i] = key[i] == '_' ? ' ' : key[i];
        buf[i] = '\0';
        return buf;
}

/* ------------------------------------------------------------------ */
/* Tables                                                                */

enum cell_kind {
        CELL_TEXT,
        CELL_TIME,       /* RFC 3339, shown in local time */
        CELL_SUBSCRIBER, /* "" is the area feed, not a missing name */
};

struct column {
        const char *title;
        const char *key; /* "a|b.c": the first the row has; "b.c" is c inside b */
        enum cell_kind kind;
        size_t max; /* the widest it may grow; the last column takes the rest */
};

static const cJSON *lookup_path(const cJSON *item, const char *path, size_t len)
{
        char key[64];

        while (item && len > 0) {
                size_t n = strcspn(path, ".");

                n = n < len ? n : len;
                if (n >= sizeof key)
                        return NULL;
                memcpy(key, path, n);
                key[n] = '\0';
                item = get(item, key);
                n += n < len; /* and the dot */
                path += n;
                len -= n;
        }
        return item;
}

static const cJSON *lookup(const cJSON *row, const char *keys)
{
        while (*keys) {
                size_t len = strcspn(keys, "|");
                const cJSON *item = lookup_path(row, keys, len);

                if (item)
                        return item;
                keys += len + (keys[len] == '|');
        }
        return NULL;
}

static const char *cell_text(const cJSON *row, const struct column *col, char *buf, size_t n)
{
        const cJSON *item = lookup(row, col->key);
        const char *text;

        if (col->kind == CELL_SUBSCRIBER && cJSON_IsString(item) && !item->valuestring[0])
                return "(area feed)";
        if (col->kind == CELL_TIME && cJSON_IsString(item))
                return format_time(item->valuestring, "%Y-%m-%d %H:%M", buf, n);
        text = scalar_text(item, buf, n);
        return *text ? text : "-";
}

static void table_widths(const cJSON *rows, const struct column *cols, size_t ncols, size_t *widths)
{
        char buf[TIME_TEXT_MAX * 4];
        const cJSON *row;
        size_t used = 0;

        for (size_t i = 0; i < ncols; i++)
                widths[i] = text_width(cols[i].title);
        cJSON_ArrayForEach(row, rows)
                for (size_t i = 0; i + 1 < ncols; i++) {
                        size_t w = text_width(cell_text(row, &cols[i], buf, sizeof buf));

                        if (w > widths[i])
                                widths[i] = w < cols[i].max ? w : cols[i].max;
                }
        for (size_t i = 0; i + 1 < ncols; i++)
                used += widths[i] + 2;
        widths[ncols - 1] = used + 20 < TABLE_WIDTH ? TABLE_WIDTH - used : 20;
}

static void put_cell(const char *text, size_t width, bool last)
{
        size_t printed = put_text(stdout, text, width, -1);

        if (!last)
                printf("%*s", (int)(width - printed + 2), "");
}

static void print_table(const cJSON *rows, const struct column *cols, size_t ncols, int indent)
{
        size_t widths[16];
        char buf[TIME_TEXT_MAX * 4];
        const cJSON *row;

        table_widths(rows, cols, ncols, widths);
        printf("%*s", indent, "");
        for (size_t i = 0; i < ncols; i++)
                put_cell(cols[i].title, widths[i], i + 1 == ncols);
        putchar('\n');
        cJSON_ArrayForEach(row, rows) {
                if (!cJSON_IsObject(row))
                        continue;
                printf("%*s", indent, "");
                for (size_t i = 0; i < ncols; i++)
                        put_cell(cell_text(row, &cols[i], buf, sizeof buf), widths[i], i + 1 == ncols);
                putchar('\n');
        }
}

#define COLUMNS(c) (c), sizeof(c) / sizeof((c)[0])

static const struct column alert_columns[] = {
        { "ID", "id", CELL_TEXT, DAWN_MAX_ID_CHARS },  { "GRADE", "grade", CELL_TEXT, 8 },
        { "STATUS", "status", CELL_TEXT, 9 },          { "TYPE", "type", CELL_TEXT, 7 },
        { "AREA", "area", CELL_TEXT, 20 },             { "REV", "revision", CELL_TEXT, 4 },
        { "UPDATED", "updated_at", CELL_TIME, 16 },    { "SUMMARY", "summary", CELL_TEXT, 0 },
};

static const struct column delivery_columns[] = {
        { "SUBSCRIBER", "subscriber", CELL_SUBSCRIBER, 24 },
        { "CHANNEL", "channel", CELL_TEXT, 7 },
        { "RECIPIENT", "recipient", CELL_TEXT, 40 },
        { "ACTION", "action", CELL_TEXT, 8 },
        { "REV", "revision", CELL_TEXT, 4 },
        /* any state dawnd names is shown whole (sent, opted-out, and any
         * added later): a cut state would hide why someone was not told */
        { "STATE", "state", CELL_TEXT, 24 },
        { "ATTEMPTS", "attempts", CELL_TEXT, 8 },
        { "NEXT-TRY", "next_at", CELL_TIME, 16 },
        { "UPDATED", "updated_at", CELL_TIME, 16 },
        { "LAST-ERROR", "last_error", CELL_TEXT, 0 },
};

static const struct column corroboration_columns[] = {
        { "SOURCE", "source", CELL_TEXT, 24 },
        /* dawnd nests what the source sent under "report" */
        { "SOURCE-REF", "source_ref|report.source_ref", CELL_TEXT, 24 },
        { "RECEIVED", "received_at", CELL_TIME, 16 },
        { "EVIDENCE", "evidence|report.evidence", CELL_TEXT, 10 },
        { "CASUALTIES", "casualties|report.casualties", CELL_TEXT, 10 },
        { "SUMMARY", "summary|report.summary", CELL_TEXT, 0 },
};

/* "via" is the dashboard or an SMS reply; "by" is the name the dashboard
 * gave, or for an SMS the number (masked by dawnd). */
static const struct column ack_columns[] = {
        { "SUBSCRIBER", "subscriber", CELL_SUBSCRIBER, 24 },
        { "VIA", "via", CELL_TEXT, 9 },
        { "BY", "by", CELL_TEXT, 24 },
        { "REVISION", "revision", CELL_TEXT, 8 },
        { "AT", "at|received_at|acked_at", CELL_TIME, 0 },
};

/* The review queue: who reported it matters as much as what, since a
 * partner's report is not yet graded by an officer. A proposal (a grade
 * rise of an active alert that a reporter's report would make) shows the
 * rise it asks for ("info -> critical") and its id starts with P; its
 * summary names the alert. */
static const struct column pending_columns[] = {
        { "ID", "id", CELL_TEXT, DAWN_MAX_ID_CHARS }, { "GRADE", "grade_change|grade", CELL_TEXT, 20 },
        { "TYPE", "type", CELL_TEXT, 7 },
        { "AREA", "area", CELL_TEXT, 20 },            { "SOURCES", "sources", CELL_TEXT, 24 },
        { "RECEIVED", "issued_at", CELL_TIME, 16 },   { "SUMMARY", "summary", CELL_TEXT, 0 },
};

/* Numbers that replied STOP; dawnd masks them before they leave it. */
static const struct column optout_columns[] = {
        { "NUMBER", "number", CELL_TEXT, 20 },
        { "SUBSCRIBERS", "subscribers", CELL_TEXT, 40 },
        { "SINCE", "since", CELL_TIME, 16 },
        { "VIA", "via", CELL_TEXT, 0 },
};

static const struct column route_columns[] = {
        { "SUBSCRIBER", "subscriber", CELL_SUBSCRIBER, 24 },
        { "KIND", "kind", CELL_TEXT, 14 },
        { "CHANNEL", "channel", CELL_TEXT, 7 },
        { "RECIPIENT", "recipient", CELL_TEXT, 0 },
};

/* ------------------------------------------------------------------ */
/* Human output, one function per kind of answer                        */

static const cJSON *result_object(const cJSON *answer, const char *key)
{
        const cJSON *item = get(answer, key);

        return cJSON_IsObject(item) ? item : NULL;
}

static const cJSON *result_array(const cJSON *answer, const char *key)
{
        const cJSON *item = get(answer, key);

        return cJSON_IsArray(item) ? item : NULL;
}

static void put_reasons(const cJSON *alert, int indent)
{
        const cJSON *reason;

        cJSON_ArrayForEach(reason, get(alert, "grade_reasons")) {
                if (!cJSON_IsString(reason))
                        continue;
                printf("%*s- ", indent, "");
                put_text(stdout, reason->valuestring, SIZE_MAX, indent + 2);
                putchar('\n');
        }
}

/* "A17  critical  active  batch  southampton  (revision 1)" */
static void put_alert_line(const cJSON *alert)
{
        static const char *const keys[] = { "id", "grade", "status", "type", "area" };
        const cJSON *revision = get(alert, "revision");
        char buf[TIME_TEXT_MAX];

        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
                const char *text = scalar_text(get(alert, keys[i]), buf, sizeof buf);

                if (i > 0)
                        fputs("  ", stdout);
                put_text(stdout, *text ? text : "-", 40, -1);
        }
        if (cJSON_IsNumber(revision))
                printf("  (revision %d)", revision->valueint);
        putchar('\n');
}

static void put_note(const char *before, const char *text, const char *after)
{
        fputs(before, stdout);
        put_text(stdout, text, 80, -1);
        fputs(after, stdout);
}

/* issue, report-overdose, update, cancel, approve, reject */
static void show_alert_result(const cJSON *request, const cJSON *answer)
{
        const cJSON *alert = result_object(answer, "alert");
        const char *id, *ref, *status, *cmd;

        if (!alert) {
                puts("done");
                return;
        }
        id = get_string(alert, "id");
        id = id ? id : "?";
        put_alert_line(alert);
        put_reasons(alert, 2);
        if (get_true(alert, "merged_into_existing") || get_true(answer, "merged_into_existing")) {
                put_note("merged into existing alert ", id, " as a corroboration\n");
        } else if (get_true(alert, "duplicate_of_submission") || get_true(answer, "duplicate_of_submission")) {
                ref = get_string(alert, "source_ref");
                put_note("already submitted as ", id, ref ? "" : "\n");
                if (ref)
                        put_note(" (source_ref ", ref, ")\n");
        }
        status = get_string(alert, "status");
        cmd = get_string(request, "cmd");
        if (status && strcmp(status, "pending") == 0 && cmd && strcmp(cmd, "issue") == 0)
                put_note("waiting for review: dawnctl approve ", id, "\n");
        if (get_true(alert, "proposal_approved"))
                put_note("proposal approved: the rise is applied to ", id, "\n");
        else if (get_true(alert, "proposal_rejected"))
                put_note("proposal rejected: alert ", id, " stays as it was\n");
}

/* The array under key as a table, or when_empty when there is none. */
static void show_rows(const cJSON *answer, const char *key, const struct column *cols, size_t ncols,
                      const char *when_empty)
{
        const cJSON *rows = result_array(answer, key);

        if (cJSON_GetArraySize(rows) == 0) {
                puts(when_empty);
                return;
        }
        print_table(rows, cols, ncols, 0);
}

static void show_list(const cJSON *request, const cJSON *answer)
{
        show_rows(answer, "alerts", COLUMNS(alert_columns),
                  get_true(request, "all") ? "no alerts" : "no active alerts");
}

static void show_pending(const cJSON *request, const cJSON *answer)
{
        (void)request;
        /* "alerts": what a dawnd from before proposals answers */
        show_rows(answer, get(answer, "pending") ? "pending" : "alerts", COLUMNS(pending_columns),
                  "nothing waiting for review");
}

static void show_optouts(const cJSON *request, const cJSON *answer)
{
        (void)request;
        show_rows(answer, "optouts", COLUMNS(optout_columns), "no numbers have opted out");
}

static void show_route(const cJSON *request, const cJSON *answer)
{
        const cJSON *deliveries = result_array(answer, "deliveries");

        (void)request;
        if (cJSON_GetArraySize(deliveries) == 0) {
                puts("no subscriber would receive this");
                return;
        }
        print_table(deliveries, COLUMNS(route_columns), 0);
}

/* One value after "label: ". Times get the local time and how far away
 * they are, because "expires in 3h" is what an officer wants to know. */
static void put_value(const char *key, const cJSON *item, int indent)
{
        char buf[TIME_TEXT_MAX * 4], when[TIME_TEXT_MAX], ago[TIME_TEXT_MAX];
        time_t t;

        if (cJSON_IsString(item) && ends_with(key, "_at") && parse_rfc3339(item->valuestring, &t) == 0) {
                long long delta = (long long)(t - time(NULL));

                format_duration(delta, ago, sizeof ago);
                format_time(item->valuestring, "%Y-%m-%d %H:%M:%S %Z", when, sizeof when);
                if (delta == 0)
                        printf("%s (just now)", when);
                else
                        printf("%s (%s%s%s)", when, delta > 0 ? "in " : "", ago, delta > 0 ? "" : " ago");
        } else if (cJSON_IsNumber(item) && (strcmp(key, "uptime") == 0 || ends_with(key, "_seconds"))) {
                format_duration((long long)item->valuedouble, when, sizeof when);
                fputs(when, stdout);
        } else {
                put_text(stdout, scalar_text(item, buf, sizeof buf), SIZE_MAX, indent);
        }
}

static void put_field(const char *label, const char *key, const cJSON *item, int width)
{
        int pad = width - (int)put_text(stdout, label, 60, -1) - 1;

        printf(":%*s", pad > 1 ? pad : 1, "");
        put_value(key, item, width);
        putchar('\n');
}

static void put_object(const cJSON *object, int indent);

/* An array of objects in a generic answer: one "- k: v, k: v" line each. */
static void put_object_list(const cJSON *list, int indent)
{
        const cJSON *row, *item;
        char buf[TIME_TEXT_MAX * 4], label[64];

        cJSON_ArrayForEach(row, list) {
                bool first = true;

                if (!cJSON_IsObject(row))
                        continue;
                printf("%*s- ", indent, "");
                cJSON_ArrayForEach(item, row) {
                        printf("%s", first ? "" : ", ");
                        put_text(stdout, label_of(item->string, label, sizeof label), 40, -1);
                        fputs(": ", stdout);
                        put_text(stdout, scalar_text(item, buf, sizeof buf), 60, -1);
                        first = false;
                }
                putchar('\n');
        }
}

/* status and anything else without a layout of its own: scalars as
 * "key: value", nested objects indented under their key. */
static void put_object(const cJSON *object, int indent)
{
        const cJSON *item;
        char label[64];

        cJSON_ArrayForEach(item, object) {
                const char *name = label_of(item->string, label, sizeof label);

                if (ends_with(name, " seconds") && cJSON_IsNumber(item))
                        label[strlen(name) - strlen(" seconds")] = '\0';
                printf("%*s", indent, "");
                put_text(stdout, name, 60, -1);
                if (cJSON_IsObject(item) && !item->child) {
                        fputs(": none\n", stdout);
                } else if (cJSON_IsObject(item)) {
                        fputs(":\n", stdout);
                        put_object(item, indent + 2);
                } else if (cJSON_IsArray(item) && cJSON_IsObject(item->child)) {
                        fputs(":\n", stdout);
                        put_object_list(item, indent + 2);
                } else {
                        fputs(": ", stdout);
                        put_value(item->string, item, indent + 2);
                        putchar('\n');
                }
        }
}

static void show_status(const cJSON *request, const cJSON *answer)
{
        const cJSON *status = result_object(answer, "status");

        (void)request;
        put_object(status ? status : answer, 0);
}

static void show_reload(const cJSON *request, const cJSON *answer)
{
        (void)request;
        (void)answer;
        puts("configuration reloaded");
}

static void show_section(const cJSON *alert, const char *key, const char *title, const struct column *cols,
                         size_t ncols)
{
        const cJSON *rows = get(alert, key);

        if (!cJSON_IsArray(rows))
                return;
        printf("\n%s:", title);
        if (cJSON_GetArraySize(rows) == 0) {
                puts(" none");
                return;
        }
        putchar('\n');
        print_table(rows, cols, ncols, 2);
}

/* The fields an officer reads first, in that order; anything else dawnd
 * sends follows, so a new field shows up without a new dawnctl. */
static const struct {
        const char *key, *label;
} shown_fields[] = {
        { "id", "id" },
        { "type", "type" },
        { "area", "area" },
        { "status", "status" },
        { "grade", "grade" },
        { "summary", "summary" },
        { "sold_as", "sold as" },
        { "adulterants", "adulterants" },
        { "appearance", "appearance" },
        { "advice", "advice" },
        { "evidence", "evidence" },
        { "casualties", "casualties" },
        { "fatalities", "fatalities" },
        { "sources", "sources" },
        { "source_ref", "source ref" },
        { "scope", "scope" },
        { "revision", "revision" },
        { "occurred_at", "occurred" },
        { "issued_at", "issued" },
        { "updated_at", "updated" },
        { "expires_at", "expires" },
};

#define SHOW_LABEL_WIDTH 13

static bool is_shown_elsewhere(const char *key)
{
        static const char *const keys[] = { "grade_reasons", "deliveries", "corroborations", "acks" };

        for (size_t i = 0; i < sizeof shown_fields / sizeof shown_fields[0]; i++)
                if (strcmp(shown_fields[i].key, key) == 0)
                        return true;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
                if (strcmp(keys[i], key) == 0)
                        return true;
        return false;
}

static void show_alert_fields(const cJSON *alert)
{
        const cJSON *item;
        char label[64];

        for (size_t i = 0; i < sizeof shown_fields / sizeof shown_fields[0]; i++) {
                item = get(alert, shown_fields[i].key);
                if (!item)
                        continue;
                put_field(shown_fields[i].label, shown_fields[i].key, item, SHOW_LABEL_WIDTH);
                if (strcmp(shown_fields[i].key, "grade") == 0)
                        put_reasons(alert, 2);
        }
        cJSON_ArrayForEach(item, alert) {
                if (is_shown_elsewhere(item->string))
                        continue;
                if (cJSON_IsObject(item) || (cJSON_IsArray(item) && cJSON_IsObject(item->child))) {
                        putchar('\n');
                        put_text(stdout, label_of(item->string, label, sizeof label), 60, -1);
                        fputs(":\n", stdout);
                        if (cJSON_IsObject(item))
                                put_object(item, 2);
                        else
                                put_object_list(item, 2);
                        continue;
                }
                put_field(label_of(item->string, label, sizeof label), item->string, item, SHOW_LABEL_WIDTH);
        }
}

static void show_alert(const cJSON *request, const cJSON *answer)
{
        const cJSON *alert = result_object(answer, "alert");

        (void)request;
        if (!alert) {
                puts("no alert in the answer");
                return;
        }
        show_alert_fields(alert);
        show_section(alert, "deliveries", "Deliveries", COLUMNS(delivery_columns));
        show_section(alert, "corroborations", "Corroborations", COLUMNS(corroboration_columns));
        show_section(alert, "acks", "Acknowledgements", COLUMNS(ack_columns));
}

/* ------------------------------------------------------------------ */
/* The answer                                                            */

/* A terminal shows JSON too: what put_text() makes visible is written as
 * \u escapes here, which any JSON reader takes as the same characters. */
static void print_json(const cJSON *item)
{
        char *text = cJSON_Print(item), *shown;

        if (!text)
                out_of_memory();
        shown = dawn_json_escape_hidden(text);
        if (!shown)
                out_of_memory();
        puts(shown);
        free(shown);
        cJSON_free(text);
}

/* --json prints the result the command is about; an answer without that
 * key is printed whole, less "ok", so nothing dawnd said is lost. */
static void print_json_result(const struct command *cmd, const cJSON *answer)
{
        const cJSON *result = cmd->result ? get(answer, cmd->result) : NULL;
        cJSON *rest;

        if (result) {
                print_json(result);
                return;
        }
        rest = must(cJSON_Duplicate(answer, true));
        cJSON_DeleteItemFromObjectCaseSensitive(rest, "ok");
        print_json(rest);
        cJSON_Delete(rest);
}

static int report_refusal(const cJSON *answer)
{
        const char *error = get_string(answer, "error");
        const char *field = get_string(answer, "field");

        fputs("dawnctl: ", stderr);
        put_text(stderr, error && *error ? error : "the request was refused", SIZE_MAX, -1);
        if (field && *field && (!error || !strstr(error, field))) {
                fputs(" (field: ", stderr);
                put_text(stderr, field, 100, -1);
                fputc(')', stderr);
        }
        fputc('\n', stderr);
        if (get_true(answer, "temporary"))
                fputs("dawnctl: this is temporary; try again shortly\n", stderr);
        return DAWN_EXIT_REFUSED;
}

static int report(const struct invocation *inv, const cJSON *answer, bool json)
{
        const cJSON *ok = get(answer, "ok");

        if (!cJSON_IsBool(ok)) {
                fputs("dawnctl: the answer has no \"ok\": is that socket dawnd's?\n", stderr);
                return DAWN_EXIT_UNREACHABLE;
        }
        if (cJSON_IsFalse(ok))
                return report_refusal(answer);
        if (json)
                print_json_result(inv->command, answer);
        else
                inv->command->show(inv->request, answer);
        return DAWN_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Help                                                                  */

static void print_usage(FILE *out)
{
        char line[128];

        fputs("Usage: dawnctl [--socket PATH] [--json] COMMAND [ARGS...]\n"
              "\n"
              "The officer's client for dawnd, the drug-alert warning daemon.\n"
              "\n"
              "Commands:\n",
              out);
        for (const struct command *cmd = commands; cmd->name; cmd++) {
                snprintf(line, sizeof line, "%s%s%s", cmd->name, *cmd->synopsis ? " " : "", cmd->synopsis);
                fprintf(out, "  %-40s %s\n", line, cmd->summary);
        }
        fputs("\n"
              "FIELDS are the alert field options (--area, --sold-as, ...): see\n"
              "'dawnctl issue --help'.\n"
              "\n"
              "Global options, before COMMAND:\n"
              "  --socket PATH   dawnd's control socket (default: $" DAWN_SOCKET_ENV ",\n"
              "                  else " DAWN_DEFAULT_SOCKET ")\n"
              "  --json          print the answer as JSON on standard output\n"
              "  -h, --help      show this help; 'dawnctl COMMAND --help' for one command\n"
              "  --version       show the version\n"
              "\n"
              "Exit status: 0 done, 1 refused by dawnd (the reason on standard error),\n"
              "2 usage error, 3 dawnd could not be reached.\n",
              out);
}

static void print_option_help(FILE *out, const char *option, const char *arg, const char *help)
{
        int width = fprintf(out, "  %s%s%s", option, arg ? " " : "", arg ? arg : "");

        fprintf(out, "%*s%s\n", width < 22 ? 22 - width : 1, "", help);
}

static void print_command_help(FILE *out, const struct command *cmd)
{
        char option[64];

        fprintf(out, "Usage: dawnctl %s%s%s\n\n%s", cmd->name, *cmd->synopsis ? " " : "", cmd->synopsis,
                cmd->help);
        fputs("\nOptions:\n", out);
        for (int id = 0; id < OPT_COUNT; id++) {
                if (!(cmd->options & OPT_BIT(id)))
                        continue;
                snprintf(option, sizeof option, "--%s", option_rows[id].name);
                print_option_help(out, option, option_rows[id].arg, option_rows[id].help);
        }
        print_option_help(out, "--json", NULL, "print the answer as JSON on standard output");
        print_option_help(out, "-h, --help", NULL, "show this help");
}

/* ------------------------------------------------------------------ */
/* main                                                                  */

struct globals {
        const char *socket;
        bool json, help, version;
};

/* Options before the command. "+" stops at the command's name, so the
 * command's own options are left for it. */
static int parse_globals(struct globals *g, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "socket", required_argument, NULL, 's' }, { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },         { "version", no_argument, NULL, 'V' },
                { NULL, 0, NULL, 0 },
        };
        char error[256];
        int c;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
                switch (c) {
                case 's': g->socket = optarg; break;
                case 'j': g->json = true; break;
                case 'h': g->help = true; break;
                case 'V': g->version = true; break;
                default:
                        describe_bad_option(c, argv, longopts, error, sizeof error);
                        fprintf(stderr, "dawnctl: %s (see dawnctl --help)\n", error);
                        return DAWN_EXIT_USAGE;
                }
        }
        if (g->socket && !*g->socket) {
                fputs("dawnctl: --socket needs a path (see dawnctl --help)\n", stderr);
                return DAWN_EXIT_USAGE;
        }
        return DAWN_EXIT_OK;
}

static const char *socket_path(const struct globals *g)
{
        const char *env = getenv(DAWN_SOCKET_ENV);

        if (g->socket)
                return g->socket;
        return env && *env ? env : DAWN_DEFAULT_SOCKET;
}

static void print_usage_error(const struct invocation *inv)
{
        const char *name = inv->command ? inv->command->name : NULL;

        fprintf(stderr, "dawnctl%s%s: ", name ? " " : "", name ? name : "");
        put_text(stderr, inv->error, SIZE_MAX, -1);
        fprintf(stderr, " (see dawnctl%s%s --help)\n", name ? " " : "", name ? name : "");
}

int dawnctl_main(int argc, char **argv)
{
        struct globals g = { 0 };
        struct invocation inv;
        cJSON *answer = NULL;
        int r, first;

        r = parse_globals(&g, argc, argv);
        if (r != DAWN_EXIT_OK)
                return r;
        if (g.help || g.version) {
                if (g.help)
                        print_usage(stdout);
                else
                        printf("dawnctl %s\n", DAWN_VERSION);
                return DAWN_EXIT_OK;
        }
        first = optind; /* dawnctl_parse runs getopt again */
        r = dawnctl_parse(&inv, argc - first, argv + first);
        if (r == DAWN_EXIT_REFUSED) {
                fprintf(stderr, "dawnctl: ");
                put_text(stderr, inv.error, SIZE_MAX, -1);
                fputc('\n', stderr);
        } else if (r != DAWN_EXIT_OK) {
                print_usage_error(&inv);
        } else if (inv.help) {
                if (inv.help_for)
                        print_command_help(stdout, inv.help_for);
                else
                        print_usage(stdout);
        } else {
                r = call_dawnd(socket_path(&g), inv.request, &answer);
                if (r == DAWN_EXIT_OK)
                        r = report(&inv, answer, g.json || inv.json);
        }
        cJSON_Delete(answer);
        dawnctl_invocation_done(&inv);
        return r;
}

/* ------------------------------------------------------------------ */
/* The grammar table                                                     */

static const struct command commands[N_COMMANDS + 1] = {
        { "issue", "[--file FILE] [FIELDS] [SUMMARY]", "submit an alert; print its id, grade and status",
          "Submits an alert and prints its id, grade and status. The type is batch\n"
          "unless --type says otherwise; SUMMARY is the same as --summary; --grade\n"
          "overrides the grade dawnd would give it.\n"
          "\n"
          "With --file, the alert is read from FILE as one JSON object and sent as\n"
          "it is; field options given as well replace or add fields. dawnd checks\n"
          "every value and names any field it refuses.\n",
          FIELD_OPTS | OPT_BIT(OPT_FILE), build_issue, show_alert_result, "alert" },
        { "report-overdose", "--area A [FIELDS]", "submit a non-fatal overdose report (nfod)",
          "Submits a report of one non-fatal overdose (type nfod) in area A.\n"
          "dawnd grades it together with the other reports it holds, so say what\n"
          "was taken (--sold-as) and what is suspected (--adulterant) when known.\n",
          FIELD_OPTS & ~OPT_BIT(OPT_TYPE), build_report_overdose, show_alert_result, "alert" },
        { "update", "ID FIELDS", "change an alert (a new revision)",
          "Changes the given fields of alert ID and prints the result. A change\n"
          "that recipients see makes a new revision, which is sent to them.\n",
          FIELD_OPTS, build_update, show_alert_result, "alert" },
        { "cancel", "ID --reason TEXT", "retract an alert; its recipients are told",
          "Retracts alert ID. Everyone who received it is told, with TEXT as the\n"
          "reason.\n",
          OPT_BIT(OPT_REASON), build_with_reason, show_alert_result, "alert" },
        { "pending", "", "list what waits for review: reports and grade rises",
          "Lists what waits for an officer, with who reported it. Two kinds:\n"
          "  alert     a report with status pending: from a source with the\n"
          "            reporter role, or an overdose cluster raised only from such\n"
          "            reports (or any cluster, when grading.cluster.review is set);\n"
          "  proposal  a grade rise of an active alert (id P1, P2, ...) that a\n"
          "            reporter's report would make; GRADE shows the rise, and the\n"
          "            alert stays as it is until the proposal is approved.\n"
          "Subscribers of kind public-health are told on each of their channels\n"
          "when one arrives. With --json, each item has \"kind\": \"alert\" or\n"
          "\"proposal\" (a proposal also names its \"alert\").\n",
          0, build_bare, show_pending, "pending" },
        { "approve", "ID", "send a pending report out, or apply a proposed rise",
          "Approves pending report ID: it becomes an active alert, with the grade\n"
          "dawnd gave it, and goes to its recipients. For a proposal (ID P1, ...),\n"
          "the report it holds counts from now on and the alert is graded again:\n"
          "if that raises it, recipients get a new revision. Prints the alert.\n",
          0, build_with_id, show_alert_result, "alert" },
        { "reject", "ID --reason TEXT", "turn down a pending report or a proposal",
          "Rejects pending report ID, with TEXT as the reason (required), which is\n"
          "kept with the report. Nothing is sent to subscribers. Prints the report.\n"
          "For a proposal (ID P1, ...), the rise is dropped and the alert stays as\n"
          "it was. An active alert cannot be rejected: withdraw it with cancel,\n"
          "which tells its recipients.\n",
          OPT_BIT(OPT_REASON), build_with_reason, show_alert_result, "alert" },
        { "list", "[--all]", "active alerts (all of them with --all)",
          "Lists the active alerts; with --all, pending, cancelled and expired\n"
          "ones as well.\n",
          OPT_BIT(OPT_ALL), build_list, show_list, "alerts" },
        { "show", "ID", "one alert: grade reasons, deliveries, acks",
          "Shows alert ID: every field, why it has its grade, each delivery and\n"
          "its state (pending, in-flight, sent, delivered, retrying, failed,\n"
          "superseded, opted-out), the reports that corroborate it and the\n"
          "acknowledgements (who, by dashboard or SMS, of which revision, when).\n",
          0, build_with_id, show_alert, "alert" },
        { "route", "--area A [--type T] [--grade G]", "dry run: who would receive such an alert",
          "Dry run: lists which subscribers, on which channels, would receive an\n"
          "alert in area A of type T (default batch) and grade G (default\n"
          "warning). Nothing is sent.\n",
          OPT_BIT(OPT_AREA) | OPT_BIT(OPT_TYPE) | OPT_BIT(OPT_GRADE), build_route, show_route, "deliveries" },
        { "optouts", "", "phone numbers that replied STOP",
          "Lists the phone numbers that replied STOP to a text: dawnd sends them no\n"
          "SMS (their deliveries show as opted-out) until they reply START. Each\n"
          "row gives the number (masked), the subscribers it belongs to, since\n"
          "when, and the SMS provider the reply came through.\n",
          0, build_bare, show_optouts, "optouts" },
        { "status", "", "daemon health: uptime, channels, queues",
          "Shows dawnd's health: uptime, each channel and its state, and the\n"
          "queue depth per channel.\n",
          0, build_bare, show_status, "status" },
        { "reload", "", "re-read the configuration (like SIGHUP)",
          "Makes dawnd re-read its configuration, as SIGHUP does. A configuration\n"
          "with errors is refused and the running one kept.\n",
          0, build_bare, show_reload, NULL },
        { "help", "[COMMAND]", "show the help for COMMAND",
          "Shows the help for COMMAND, or the list of commands.\n", 0, build_help, NULL, NULL },
        { NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL }, /* the end */
};

#ifndef DAWNCTL_NO_MAIN
int main(int argc, char **argv)
{
        return dawnctl_main(argc, argv);
}
#endif
