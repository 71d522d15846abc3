/* The alert: the model, JSON in and out, validation with errors that name
 * the field, and the fingerprint that deduplication matches on. */
#ifndef DAWN_ALERT_H
#define DAWN_ALERT_H

#include <cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dawn/protocol.h"
#include "model.h"

struct dawn_config;

/* A list of owned strings. */
struct dawn_strv {
        char **v;
        size_t n;
};
int dawn_strv_add(struct dawn_strv *s, const char *str);
bool dawn_strv_contains(const struct dawn_strv *s, const char *str);
void dawn_strv_free(struct dawn_strv *s);
int dawn_strv_copy(struct dawn_strv *dst, const struct dawn_strv *src);

/* Why the input was refused: the field (dotted, e.g. "sold_as[2]") and a
 * sentence for a person. */
struct dawn_input_error {
        char field[64];
        char message[256];
        bool temporary;  /* try again later (storage full); not the submitter's fault */
};
int dawn_input_error_set(struct dawn_input_error *e, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* The refusal every way in answers with: {"error": "<sentence>", "field":
 * "<name>" (when one is to blame), "temporary": true (when trying again
 * later may work)}. The sentence is cut on a character boundary at 511
 * bytes. NULL only when out of memory. */
#include <cJSON.h>
#include <stdarg.h>
cJSON *dawn_error_json(const char *field, bool temporary, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
cJSON *dawn_error_json_v(const char *field, bool temporary, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));

struct dawn_alert {
        /* what the submitter says */
        enum dawn_type type;
        char *area;
        char *summary;
        struct dawn_strv sold_as;
        struct dawn_strv adulterants;
        char *appearance;
        char *advice;
        enum dawn_evidence evidence;
        int64_t casualties;        /* -1: not given */
        int64_t fatalities;        /* -1: not given */
        int64_t occurred_at;       /* microseconds since the epoch; 0: not given */
        int64_t expires_at;        /* 0: not given (the daemon fills the default) */
        bool has_grade_override;
        enum dawn_grade grade_override;
        enum dawn_scope scope;
        char *source_ref;

        /* what the daemon adds */
        char id[DAWN_MAX_ID_CHARS + 1];
        int revision;
        enum dawn_status status;
        enum dawn_grade grade;
        struct dawn_strv grade_reasons;
        struct dawn_strv sources;
        int64_t issued_at;
        int64_t updated_at;
        char *cancel_reason;
};

void dawn_alert_init(struct dawn_alert *a);
void dawn_alert_clear(struct dawn_alert *a);
int dawn_alert_copy(struct dawn_alert *dst, const struct dawn_alert *src);

/* The length of the longest prefix of s of at most max bytes that does not
 * end inside a UTF-8 character: for "%.*s" in messages that quote input, so
 * that an error about valid UTF-8 is valid UTF-8 itself. */
int dawn_utf8_prefix(const char *s, size_t max);

/* Text rules for any free-text field: valid UTF-8, no control characters
 * (newlines where multiline), not blank, at most max_chars characters. */
int dawn_text_check(const char *field, const char *s, long max_chars, bool multiline,
                    struct dawn_input_error *err);

/* Which input fields a parse saw, so that an update changes only those. */
enum {
        DAWN_FIELD_TYPE = 1u << 0, DAWN_FIELD_AREA = 1u << 1, DAWN_FIELD_SUMMARY = 1u << 2,
        DAWN_FIELD_SOLD_AS = 1u << 3, DAWN_FIELD_ADULTERANTS = 1u << 4,
        DAWN_FIELD_APPEARANCE = 1u << 5, DAWN_FIELD_ADVICE = 1u << 6,
        DAWN_FIELD_EVIDENCE = 1u << 7, DAWN_FIELD_CASUALTIES = 1u << 8,
        DAWN_FIELD_FATALITIES = 1u << 9, DAWN_FIELD_OCCURRED_AT = 1u << 10,
        DAWN_FIELD_EXPIRES_AT = 1u << 11, DAWN_FIELD_GRADE = 1u << 12,
        DAWN_FIELD_SCOPE = 1u << 13, DAWN_FIELD_SOURCE_REF = 1u << 14,
};

/* Parses a submitter's alert object into a (dawn_alert_init'ed) alert.
 * Unknown fields, wrong types, bad values and over-long text are refused
 * with the field named. *seen gets the DAWN_FIELD_* bits present. Checks
 * that need the configuration (the area) are dawn_alert_check()'s.
 * Returns 0 or -EINVAL with err filled. */
int dawn_alert_parse_input(const cJSON *obj, struct dawn_alert *a, unsigned *seen,
                           struct dawn_input_error *err);

/* Copies the fields in seen from src into dst (an update). */
int dawn_alert_apply_update(struct dawn_alert *dst, const struct dawn_alert *src, unsigned seen);

/* Checks a complete alert against the rules that need the whole alert or
 * the configuration: required fields per type, a known area, times in order.
 * now is used for expires_at (it must lie in the future). */
int dawn_alert_check(const struct dawn_alert *a, const struct dawn_config *c, int64_t now_usec,
                     struct dawn_input_error *err);

/* The alert as JSON (the public form in SPEC.md). */
cJSON *dawn_alert_to_json(const struct dawn_alert *a);
/* Back from that JSON (the store's own copy: trusted, but still checked). */
int dawn_alert_from_json(const cJSON *obj, struct dawn_alert *a);

/* type, area, sold_as, adulterants, each list lower-cased, trimmed, sorted
 * and de-duplicated: two reports of one batch match whatever their word
 * order or case. Fields are joined by the ASCII record separator and words
 * by the unit separator: control characters are refused in words, so no two
 * different reports can share a fingerprint. Returns a malloc'ed string or NULL. */
char *dawn_alert_fingerprint(const struct dawn_alert *a);

/* True if no object or array in buf (len bytes) nests deeper than max.
 * Run before cJSON: its own limit is compiled into the system library. */
bool dawn_json_depth_ok(const char *buf, size_t len, int max);
/* True if a string in the JSON text (len bytes that cJSON has accepted) holds
 * the NUL character, escaped as \u0000 or as a raw byte: cJSON decodes it
 * into its C strings, which then end there ("portsmouth\u0000evil" would be
 * read as "portsmouth"), so it must be refused before anything reads them.
 * Member names count too. path (size bytes, DAWN_JSON_PATH_MAX will do)
 * gets where it is, e.g. "alert.area", "sold_as[2]", "[1].source_ref", or
 * root when the whole value is that string. */
#define DAWN_JSON_PATH_MAX 128
bool dawn_json_find_nul(const char *text, size_t len, const char *root, char *path, size_t size);
/* The sentence every way in refuses it with; one %s, the path. */
#define DAWN_JSON_NUL_REFUSAL \
        "%s: holds the NUL character (\\u0000), which DAWN refuses in any text: it would cut the text short there"
/* One JSON value from a peer's bytes, bounded before cJSON sees them: at
 * most max_bytes, nested at most max_depth levels, nothing but white
 * space after it, and no NUL in any string (dawn_json_find_nul). Returns
 * the value, or NULL with *err set to a refusal naming "body", or the
 * path of the string with a NUL ("area", or in a batch "alert[1].area";
 * what, e.g. "a report", names the thing in its sentence) and *too_large
 * telling a refusal for size from the others. */
cJSON *dawn_json_parse_bounded(const char *text, size_t len, size_t max_bytes, int max_depth, const char *what,
                               bool *too_large, cJSON **err);

/* RFC 3339 <-> microseconds since the epoch (UTC). */
int dawn_time_parse(const char *s, int64_t *usec);
/* "2026-11-23T18:23:51Z" into buf (at least 32 bytes). */
char *dawn_time_format(int64_t usec, char *buf, size_t n);
int64_t dawn_now_usec(void);

#endif
