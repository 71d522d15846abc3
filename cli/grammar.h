/* dawnctl's grammar: every command is one row of one table (commands[] at
 * the end of grammar.c): its name, synopsis, help, the options it takes,
 * the function that turns its arguments into a control request and the
 * function that shows the answer to a person (render.h). "dawnctl --help",
 * "dawnctl COMMAND --help" and the parser read the same table, so a command
 * cannot exist without its help.
 *
 * dawnctl checks only what it has to parse itself (whole numbers,
 * durations, "is --file JSON"); dawnd validates every value and names the
 * field it refuses, so there is one set of rules, not two. */
#pragma once

#include <cJSON.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

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
        /* history and audit */
        OPT_SINCE,
        OPT_ACTOR,
        OPT_LIMIT,
        OPT_DRY_RUN,
        OPT_REMOVE,
        OPT_HTML,
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
        /* For completion: the words the value is one of, or NULL for free
         * text; an argument named FILE completes as a path. */
        const char *values;
};

/* ------------------------------------------------------------------ */
/* The grammar table's types; the table is at the end of grammar.c.    */

struct invocation;
struct args;

/* A command's operand as completion offers it: alert ids from dawnd, which
 * list it asks for being part of what the command means, or commands. */
enum operand {
        OPERAND_NONE,
        OPERAND_ANY_ALERT,     /* show: "list --all" */
        OPERAND_ACTIVE_ALERT,  /* update, cancel: "list" */
        OPERAND_PENDING,       /* approve, reject: "pending" */
        OPERAND_COMMAND,       /* help */
        OPERAND_CHANNEL,       /* resume: mqtt, sms, email */
};

struct command {
        const char *name;
        const char *synopsis; /* what follows "dawnctl NAME" */
        const char *summary;  /* one line for "dawnctl --help" */
        const char *help;     /* the paragraph of "dawnctl NAME --help" */
        unsigned options;     /* OPT_BIT()s of the options it takes */
        int (*build)(struct invocation *inv, struct args *a);
        void (*show)(const cJSON *request, const cJSON *answer);
        const char *result; /* the answer's key that --json prints; NULL: all of it */
        enum operand operand; /* what completion offers for its operand */
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
        const char *html_file;         /* summary --html: the page is written here (argv's) */
};

/* What the options said, before a command's builder shapes the request. */
struct args {
        cJSON *fields;      /* alert field options, under their alert keys */
        const char *file;   /* --file */
        const char *reason; /* --reason */
        bool all;           /* --all */
        const char *since;  /* --since */
        const char *actor;  /* --actor */
        const char *limit;  /* --limit */
        bool dry_run;       /* --dry-run */
        const char *remove; /* --remove (public) */
        const char *html;   /* --html */
        char **operands;    /* what is left after the options */
        int n_operands;
};

/* How many commands the table has. Fixed here because a static array
 * cannot be declared incomplete; a command added to the table without
 * raising this is a compile error. */
#define N_COMMANDS 21

/* The testable core: tests/unit/test_dawnctl_args.c calls these. argv[0]
 * is the command's name. Returns DAWN_EXIT_OK with inv->request (or
 * inv->help) set, DAWN_EXIT_USAGE with inv->error set, or DAWN_EXIT_REFUSED
 * when --file holds no alert; either way dawnctl_invocation_done() frees
 * what inv holds. */
int dawnctl_parse(struct invocation *inv, int argc, char **argv);
void dawnctl_invocation_done(struct invocation *inv);

/* The command called name, or NULL. */
const struct command *find_command(const char *name);

/* getopt_long said '?' or ':' (c) for argv: the message naming the option
 * as the officer typed it, for the global options as for a command's. */
void describe_bad_option(int c, char **argv, const struct option *longopts, char *buf, size_t n);

/* The options before the command, for getopt_long: 's' --socket PATH,
 * 'j' --json, 'h' --help, 'V' --version. */
extern const struct option global_longopts[];

/* "dawnctl --help" and "dawnctl COMMAND --help", from the table. */
void print_usage(FILE *out);
void print_command_help(FILE *out, const struct command *cmd);

/* "dawnctl --complete": the table as the bash completion reads it
 * (packaging/bash-completion/dawnctl), one line each:
 *   global --OPTION KIND              an option before the command
 *   option --OPTION KIND [WORD...]    an option after one
 *   command NAME OPERAND --OPTION...  a command, what its operand is, its options
 * KIND is flag, text, file or words (then the words follow); OPERAND is
 * -, alert, active, pending or command. */
void print_completion(FILE *out);

/* Exposed for the unit tests: "90s", "1d12h" -> seconds (-1 if not a
 * duration); --file's text -> the alert object, or NULL with inv->error. */
int parse_duration(const char *s, long long *seconds);
cJSON *parse_alert_text(struct invocation *inv, const char *name, const char *text, size_t len);
