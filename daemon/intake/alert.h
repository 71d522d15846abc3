/* The alert: the model, JSON in and out, validation with errors that name
 * the field, and the fingerprint that deduplication matches on. */
#ifndef DAWN_ALERT_H
#define DAWN_ALERT_H

#include <cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dawn/protocol.h"
#include "clock.h"
#include "json.h"
#include "model.h"
#include "str.h"
#include "text.h"

struct dawn_config;

/* Why the input was refused: the field (dotted, e.g. "sold_as[2]") and a
 * sentence for a person. */
struct dawn_input_error {
        char field[64];
        char message[256];
        bool temporary;  /* try again later (storage full); not the submitter's fault */
};
int dawn_input_error_set(struct dawn_input_error *e, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

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

#endif
