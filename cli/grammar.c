/* dawnctl's grammar: the table of commands and options (grammar.h), and
 * turning a command line into a control request or help by it. */

#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alert.h"
#include "common.h"
#include "dawn/protocol.h"
#include "grammar.h"
#include "model.h"
#include "render.h"
#include "summary_render.h"
#include "text.h"

/* Longer than any sensible expiry; keeps "now + duration" from overflowing. */
#define DURATION_MAX_SECONDS (100LL * 366 * 24 * 3600)

static const struct option_row option_rows[OPT_COUNT] = {
        [OPT_TYPE] = { "type", "T", "type", VALUE_TEXT, "batch, cluster or nfod", "batch cluster nfod" },
        [OPT_AREA] = { "area", "A", "area", VALUE_TEXT, "an area id from the configured area tree", NULL },
        [OPT_SUMMARY] = { "summary", "TEXT", "summary", VALUE_TEXT,
                          "what happened and why it matters (1..1000 characters)", NULL },
        [OPT_SOLD_AS] = { "sold-as", "S", "sold_as", VALUE_LIST,
                          "what it was sold or bought as (repeatable)", NULL },
        [OPT_ADULTERANT] = { "adulterant", "X", "adulterants", VALUE_LIST,
                             "what was found or suspected in it (repeatable)", NULL },
        [OPT_APPEARANCE] = { "appearance", "TEXT", "appearance", VALUE_TEXT,
                             "colour, form, markings, packaging", NULL },
        [OPT_ADVICE] = { "advice", "TEXT", "advice", VALUE_TEXT, "harm-reduction advice to pass on", NULL },
        [OPT_EVIDENCE] = { "evidence", "E", "evidence", VALUE_TEXT,
                           "reported (default), clinical or toxicology", "reported clinical toxicology" },
        [OPT_CASUALTIES] = { "casualties", "N", "casualties", VALUE_COUNT,
                             "people harmed (a whole number)", NULL },
        [OPT_FATALITIES] = { "fatalities", "N", "fatalities", VALUE_COUNT, "deaths (a whole number)", NULL },
        [OPT_GRADE] = { "grade", "G", "grade", VALUE_TEXT, "info, warning or critical",
                        "info warning critical" },
        [OPT_EXPIRES] = { "expires", "WHEN", "expires_at", VALUE_WHEN,
                          "a duration from now (90s, 30m, 24h, 14d) or an RFC 3339 time", NULL },
        [OPT_SCOPE] = { "scope", "S", "scope", VALUE_TEXT, "professional (default) or public",
                        "professional public" },
        [OPT_SOURCE_REF] = { "source-ref", "REF", "source_ref", VALUE_TEXT,
                             "your own id for this report; sending it again changes nothing", NULL },
        [OPT_OCCURRED] = { "occurred", "TIME", "occurred_at", VALUE_TEXT, "when it happened (RFC 3339)",
                           NULL },
        [OPT_FILE] = { "file", "FILE", NULL, VALUE_TEXT,
                       "read one JSON alert object from FILE ('-': standard input)", NULL },
        [OPT_REASON] = { "reason", "TEXT", NULL, VALUE_TEXT, "why; recorded with the alert (required)",
                         NULL },
        [OPT_ALL] = { "all", NULL, NULL, VALUE_FLAG, "include pending, cancelled and expired alerts", NULL },
        [OPT_SINCE] = { "since", "D", NULL, VALUE_TEXT, "only the last D (a duration: 30m, 24h, 7d)", NULL },
        [OPT_ACTOR] = { "actor", "NAME", NULL, VALUE_TEXT, "only what NAME did (exactly as the log names it)", NULL },
        [OPT_LIMIT] = { "limit", "N", NULL, VALUE_TEXT, "at most the newest N entries (default 1000, at most 10000)",
                        NULL },
        [OPT_DRY_RUN] = { "dry-run", NULL, NULL, VALUE_FLAG, "say what would be removed; remove nothing", NULL },
        [OPT_REMOVE] = { "remove", "NUMBER", NULL, VALUE_TEXT,
                         "remove this phone number's public subscriptions (+447700900123)", NULL },
        [OPT_HTML] = { "html", "FILE", NULL, VALUE_TEXT, "write the summary as one self-contained HTML page",
                       NULL },
};

/* The table is at the end of this file, sized by N_COMMANDS (grammar.h). */
static const struct command commands[N_COMMANDS + 1];

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
int parse_duration(const char *s, long long *seconds)
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
void describe_bad_option(int c, char **argv, const struct option *longopts, char *buf, size_t n)
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
        case OPT_SINCE: return set_once(inv, &a->since, value, option_rows[id].name);
        case OPT_ACTOR: return set_once(inv, &a->actor, value, option_rows[id].name);
        case OPT_LIMIT: return set_once(inv, &a->limit, value, option_rows[id].name);
        case OPT_DRY_RUN: a->dry_run = true; return 0;
        case OPT_REMOVE: return set_once(inv, &a->remove, value, option_rows[id].name);
        case OPT_HTML: return set_once(inv, &a->html, value, option_rows[id].name);
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

const struct command *find_command(const char *name)
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

cJSON *parse_alert_text(struct invocation *inv, const char *name, const char *text, size_t len)
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

/* public [--remove NUMBER] */
static int build_public(struct invocation *inv, struct args *a)
{
        if (expect_operands(inv, a, 0, NULL) < 0)
                return -1;
        inv->request = new_request("public");
        if (a->remove)
                must(cJSON_AddStringToObject(inv->request, "remove", a->remove));
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

/* resume CHANNEL */
static int build_resume(struct invocation *inv, struct args *a)
{
        if (expect_operands(inv, a, 1, "the channel (mqtt, sms or email)") < 0)
                return -1;
        inv->request = new_request("resume");
        must(cJSON_AddStringToObject(inv->request, "channel", a->operands[0]));
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

/* audit [--since D] [--actor NAME] [--limit N]: "7d" is sent as seconds
 * back from when dawnd reads it, which is a moment after it was typed. */
static int build_audit(struct invocation *inv, struct args *a)
{
        long long seconds, limit;

        if (expect_operands(inv, a, 0, NULL) < 0)
                return -1;
        if (a->since && parse_duration(a->since, &seconds) < 0)
                return usage_error(inv, "--since wants a duration such as 30m, 24h or 7d, not '%s'", a->since);
        if (a->limit && (parse_count(a->limit, &limit) < 0 || limit < 1 || limit > DAWN_AUDIT_MAX_ROWS))
                return usage_error(inv, "--limit wants a whole number from 1 to %d, not '%s'", DAWN_AUDIT_MAX_ROWS,
                                   a->limit);
        if (a->actor && !*a->actor)
                return usage_error(inv, "--actor wants a name, not nothing");
        inv->request = new_request("audit");
        if (a->since)
                must(cJSON_AddNumberToObject(inv->request, "since_seconds", (double)seconds));
        if (a->actor)
                must(cJSON_AddStringToObject(inv->request, "actor", a->actor));
        if (a->limit)
                must(cJSON_AddNumberToObject(inv->request, "limit", (double)limit));
        return 0;
}

static int build_prune(struct invocation *inv, struct args *a)
{
        if (expect_operands(inv, a, 0, NULL) < 0)
                return -1;
        inv->request = new_request("prune");
        must(cJSON_AddBoolToObject(inv->request, "dry_run", a->dry_run));
        return 0;
}

/* summary [--since D] [--json | --html FILE]: the window goes as seconds,
 * counted back from when dawnd reads it. A directory is refused here, before
 * anything is asked, so that the page cannot land somewhere unexpected. */
static int build_summary(struct invocation *inv, struct args *a)
{
        long long seconds = 7 * 86400;
        struct stat st;

        if (expect_operands(inv, a, 0, NULL) < 0)
                return -1;
        if (a->since && (parse_duration(a->since, &seconds) < 0 || seconds == 0))
                return usage_error(inv, "--since wants a duration such as 24h, 7d or 4w, not '%s'", a->since);
        if (a->html) {
                if (inv->json)
                        return usage_error(inv, "--html and --json: choose one");
                if (!*a->html)
                        return usage_error(inv, "--html needs a file name");
                if (stat(a->html, &st) == 0 && S_ISDIR(st.st_mode))
                        return usage_error(inv, "--html: '%s' is a directory; name the file to write", a->html);
                inv->html_file = a->html;
        }
        inv->request = new_request("summary");
        must(cJSON_AddNumberToObject(inv->request, "since_seconds", (double)seconds));
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
/* Help                                                                  */

/* Before the command; "dawnctl --help" describes them. */
const struct option global_longopts[] = {
        { "socket", required_argument, NULL, 's' }, { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },         { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
};

void print_usage(FILE *out)
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

void print_command_help(FILE *out, const struct command *cmd)
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
/* Completion                                                            */

static void print_completion_kind(FILE *out, const char *arg, const char *values)
{
        if (!arg)
                fputs(" flag", out);
        else if (values)
                fprintf(out, " words %s", values);
        else
                fputs(strcmp(arg, "FILE") == 0 ? " file" : " text", out);
}

void print_completion(FILE *out)
{
        static const char *const operands[] = {
                [OPERAND_NONE] = "-",        [OPERAND_ANY_ALERT] = "alert", [OPERAND_ACTIVE_ALERT] = "active",
                [OPERAND_PENDING] = "pending", [OPERAND_COMMAND] = "command", [OPERAND_CHANNEL] = "channel",
        };

        /* --socket is the one global option with a value, and it is a path */
        for (const struct option *o = global_longopts; o->name; o++) {
                fprintf(out, "global --%s", o->name);
                print_completion_kind(out, o->has_arg ? "FILE" : NULL, NULL);
                fputc('\n', out);
        }
        for (int id = 0; id < OPT_COUNT; id++) {
                fprintf(out, "option --%s", option_rows[id].name);
                print_completion_kind(out, option_rows[id].arg, option_rows[id].values);
                fputc('\n', out);
        }
        fputs("option --json flag\noption --help flag\n", out);
        for (const struct command *cmd = commands; cmd->name; cmd++) {
                fprintf(out, "command %s %s", cmd->name, operands[cmd->operand]);
                for (int id = 0; id < OPT_COUNT; id++)
                        if (cmd->options & OPT_BIT(id))
                                fprintf(out, " --%s", option_rows[id].name);
                fputs(" --json --help\n", out);
        }
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
          FIELD_OPTS | OPT_BIT(OPT_FILE), build_issue, show_alert_result, "alert", OPERAND_NONE },
        { "report-overdose", "--area A [FIELDS]", "submit a non-fatal overdose report (nfod)",
          "Submits a report of one non-fatal overdose (type nfod) in area A.\n"
          "dawnd grades it together with the other reports it holds, so say what\n"
          "was taken (--sold-as) and what is suspected (--adulterant) when known.\n",
          FIELD_OPTS & ~OPT_BIT(OPT_TYPE), build_report_overdose, show_alert_result, "alert", OPERAND_NONE },
        { "update", "ID FIELDS", "change an alert (a new revision)",
          "Changes the given fields of alert ID and prints the result. A change\n"
          "that recipients see makes a new revision, which is sent to them.\n",
          FIELD_OPTS, build_update, show_alert_result, "alert", OPERAND_ACTIVE_ALERT },
        { "cancel", "ID --reason TEXT", "retract an alert; its recipients are told",
          "Retracts alert ID. Everyone who received it is told, with TEXT as the\n"
          "reason.\n",
          OPT_BIT(OPT_REASON), build_with_reason, show_alert_result, "alert", OPERAND_ACTIVE_ALERT },
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
          0, build_bare, show_pending, "pending", OPERAND_NONE },
        { "approve", "ID", "send a pending report out, or apply a proposed rise",
          "Approves pending report ID: it becomes an active alert, with the grade\n"
          "dawnd gave it, and goes to its recipients. For a proposal (ID P1, ...),\n"
          "the report it holds counts from now on and the alert is graded again:\n"
          "if that raises it, recipients get a new revision. Prints the alert.\n",
          0, build_with_id, show_alert_result, "alert", OPERAND_PENDING },
        { "reject", "ID --reason TEXT", "turn down a pending report or a proposal",
          "Rejects pending report ID, with TEXT as the reason (required), which is\n"
          "kept with the report. Nothing is sent to subscribers. Prints the report.\n"
          "For a proposal (ID P1, ...), the rise is dropped and the alert stays as\n"
          "it was. An active alert cannot be rejected: withdraw it with cancel,\n"
          "which tells its recipients.\n",
          OPT_BIT(OPT_REASON), build_with_reason, show_alert_result, "alert", OPERAND_PENDING },
        { "list", "[--all]", "active alerts (all of them with --all)",
          "Lists the active alerts; with --all, pending, cancelled and expired\n"
          "ones as well.\n",
          OPT_BIT(OPT_ALL), build_list, show_list, "alerts", OPERAND_NONE },
        { "show", "ID", "one alert: grade reasons, deliveries, acks, escalations",
          "Shows alert ID: every field, why it has its grade, each delivery and\n"
          "its state (pending, in-flight, sent, delivered, retrying, failed,\n"
          "superseded, opted-out), the reports that corroborate it and the\n"
          "acknowledgements (who, by dashboard or SMS, of which revision, when),\n"
          "and each subscriber's escalation: waiting (its deadline), acknowledged\n"
          "(by whom, when), escalated (to whom, when) or stopped.\n",
          0, build_with_id, show_alert, "alert", OPERAND_ANY_ALERT },
        { "route", "--area A [--type T] [--grade G]", "dry run: who would receive such an alert",
          "Dry run: lists which subscribers, on which channels, would receive an\n"
          "alert in area A of type T (default batch) and grade G (default\n"
          "warning). Nothing is sent.\n",
          OPT_BIT(OPT_AREA) | OPT_BIT(OPT_TYPE) | OPT_BIT(OPT_GRADE), build_route, show_route, "deliveries",
          OPERAND_NONE },
        { "optouts", "", "phone numbers that replied STOP",
          "Lists the phone numbers that replied STOP to a text: dawnd sends them no\n"
          "SMS (their deliveries show as opted-out) until they reply START. Each\n"
          "row gives the number (masked), the subscribers it belongs to, since\n"
          "when, and the SMS provider the reply came through.\n",
          0, build_bare, show_optouts, "optouts", OPERAND_NONE },
        { "status", "", "daemon health: uptime, channels, queues",
          "Shows dawnd's health: uptime, each channel and its state, and the\n"
          "queue depth per channel.\n",
          0, build_bare, show_status, "status", OPERAND_NONE },
        { "reload", "", "re-read the configuration (like SIGHUP)",
          "Makes dawnd re-read its configuration, as SIGHUP does. A configuration\n"
          "with errors is refused and the running one kept.\n",
          0, build_bare, show_reload, NULL, OPERAND_NONE },
        { "prune", "[--dry-run]", "remove delivery details of alerts that ended long ago",
          "Removes now what retention.deliveries (default 90d) says DAWN keeps no\n"
          "longer: for every alert that was cancelled or expired longer ago than\n"
          "that, its deliveries (with the recipients' numbers, addresses and\n"
          "topics) and who acknowledged it. The counts per channel and state, and\n"
          "how long deliveries took, are kept: 'dawnctl show' still gives them.\n"
          "dawnd does this by itself every day; each alert gets an audit row\n"
          "\"prune\" with you as its actor. A large backlog goes in steps of 64\n"
          "alerts (or 4096 deliveries); the steps after the first follow by\n"
          "themselves.\n"
          "\n"
          "With --dry-run, says what would be removed (alerts, deliveries per\n"
          "channel, the first alert ids) and removes nothing.\n",
          OPT_BIT(OPT_DRY_RUN), build_prune, show_prune, "prune", OPERAND_NONE },
        { "unacked", "", "active alerts' subscribers who have not acknowledged",
          "Lists, for each active alert, the subscribers it was sent to who have\n"
          "not acknowledged it (dashboard or SMS ACK), newest alert first, with\n"
          "their escalation: waiting (WHEN: its deadline), escalated (WHEN, and\n"
          "TO-WHY: who was told), stopped, or none (not configured to escalate).\n",
          0, build_bare, show_unacked, "unacked", OPERAND_NONE },
        { "public", "[--remove NUMBER]", "public text subscribers per area; remove a number",
          "Shows how many phone numbers joined public text alerts (JOIN <area>)\n"
          "for each area, never the numbers themselves. With --remove NUMBER, first\n"
          "removes every public subscription of that number (a request to erase\n"
          "it), recorded in the audit log as public-remove with the number masked.\n",
          OPT_BIT(OPT_REMOVE), build_public, show_public, "areas", OPERAND_NONE },
        { "summary", "[--since D] [--json | --html FILE]", "the panel's summary: alerts, deliveries, acks",
          "Summarises the alerts issued in the last D (default 7d): how many by\n"
          "type, grade and area; the time from the first report to issue (for\n"
          "clusters and reviewed reports: median and longest); per channel, how\n"
          "many deliveries succeeded (delivered or sent) or failed and the p50/p95\n"
          "time to deliver; per subscriber kind, the share acknowledged and the\n"
          "median time to acknowledge; escalations; opt-outs and public\n"
          "subscriptions. An alert is issued when recipients first see it: at once,\n"
          "or when an officer approves it. Figures read at most 1,000,000 rows each\n"
          "(\"capped\": true says a figure hit that).\n"
          "\n"
          "With --html FILE, writes the same figures as one self-contained HTML page\n"
          "(charts as inline SVG, tables with the numbers; no script, nothing\n"
          "fetched) for the panel's minutes; the file is replaced whole.\n",
          OPT_BIT(OPT_SINCE) | OPT_BIT(OPT_HTML), build_summary, show_summary, "summary", OPERAND_NONE },
        { "resume", "CHANNEL", "send again on a channel paused by its provider's refusal",
          "Resumes CHANNEL (sms or email) after it paused because its provider\n"
          "refused dawnd's credentials (SMS 401/403, SMTP authentication): say so\n"
          "once the cause is fixed outside dawnd's configuration (a clock that was\n"
          "wrong, a key re-enabled at the provider). Everything that waited goes\n"
          "out. A changed configuration needs `dawnctl reload` instead, which\n"
          "restarts the channel. `dawnctl status` shows a paused channel.\n",
          0, build_resume, show_resume, NULL, OPERAND_CHANNEL },
        { "help", "[COMMAND]", "show the help for COMMAND",
          "Shows the help for COMMAND, or the list of commands.\n", 0, build_help, NULL, NULL,
          OPERAND_COMMAND },
        { "history", "ID", "every event on an alert, oldest first, with who and when",
          "Shows everything that happened to alert ID, oldest first, one line each:\n"
          "when (local time), who (the actor, as the audit log names it: see\n"
          "'dawnctl audit --help'), what, the revision it made, and the detail.\n"
          "Events: issue or report (who issued it and from which way in),\n"
          "corroborate (each report merged into it, with its source), grade (the\n"
          "grade and why, when it changed), propose, approve, reject, update,\n"
          "cancel, expire, ack (who acknowledged which revision, by text or on\n"
          "the dashboard), escalation-wait, escalate, escalation-acknowledged,\n"
          "escalation-stopped. At most 5000 events are shown.\n",
          0, build_with_id, show_history, "history", OPERAND_ANY_ALERT },
        { "audit", "[--since D] [--actor NAME] [--limit N]", "every decision by anyone, newest last",
          "Lists the audit log: every decision by anyone (issue, report, update,\n"
          "cancel, approve, reject, reload, acks, texts that said STOP or START,\n"
          "...), oldest first, ending with the newest. Only the newest N entries\n"
          "(--limit, default 1000) are shown; a note says when older ones were\n"
          "left out. The actor says who and from which way in:\n"
          "  uid 1000 (alice)               an officer, over the control socket\n"
          "  http:ambulance                 a partner source, over the HTTP API\n"
          "  mqtt:ambulance                 a partner source, over MQTT ingest; for\n"
          "                                 an ack, the subscriber's dashboard\n"
          "  sms:+4477******23 (hostel-a)   a text from a subscriber's number\n"
          "  dawnd (expiry), ...            dawnd itself\n"
          "  SIGHUP                         a reload by signal\n",
          OPT_BIT(OPT_SINCE) | OPT_BIT(OPT_ACTOR) | OPT_BIT(OPT_LIMIT), build_audit, show_audit, "audit",
          OPERAND_NONE },
        { NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, OPERAND_NONE }, /* the end */
};
